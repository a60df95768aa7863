#!/usr/bin/perl

# A visitor cookie as the identity source: plain and signed ids, several
# Cookie headers, duplicates, oversized, malformed, forged, expired, wrong
# key and rotated keys.  A bad cookie makes the visitor anonymous, never an
# error page.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_base64);
use Test::More;

use lib 't/lib';
use PzTest;

my $KEY_OLD = 'old-key-0123456789abcdef0123456789';
my $KEY_NEW = 'new-key-fedcba9876543210fedcba9876';
my $KEY_BAD = 'bad-key-xxxxxxxxxxxxxxxxxxxxxxxxxx';

# an independent implementation of the signed id format (README)
sub signed {
    my ($id, $expires, $key) = @_;
    my $mac = hmac_sha256_base64("pz1:$id.$expires", $key);
    $mac =~ tr{+/}{-_};
    return "$id.$expires.$mac";
}

my $t = PzTest->new;

$t->write_file('new.key', "$KEY_NEW\n");
$t->write_file('old.key', "$KEY_OLD\n");
chmod 0600, map { $t->dir . "/$_" } qw(new.key old.key);

$t->run(<<'EOF');
http {
    personalize_key %%DIR%%/new.key;
    personalize_key %%DIR%%/old.key;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            personalize_identity cookie $cookie_pz signed;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /plain {
            personalize_identity cookie $cookie_vid;
            return 200 "[$personalize_id|$personalize_id_source]";
        }
    }
}
EOF

my $future = time + 3600;
my $past = time - 10;

sub id_of {
    my $r = $t->get(@_);
    return "status $r->{status}" unless $r->{status} == 200;
    return $r->{body};
}

is(id_of('/'), '[|none]', 'no cookie: anonymous');

is(id_of('/', Cookie => 'pz=' . signed('c1', $future, $KEY_NEW)),
   '[c1|cookie]', 'signed with the first key');
is(id_of('/', Cookie => 'pz=' . signed('c2', $future, $KEY_OLD)),
   '[c2|cookie]', 'signed with a rotated-out key still verifies');
is(id_of('/', Cookie => 'pz=' . signed('c3', $future, $KEY_BAD)),
   '[|none]', 'wrong key: anonymous');
is(id_of('/', Cookie => 'pz=' . signed('c4', $past, $KEY_NEW)),
   '[|none]', 'expired: anonymous');
is(id_of('/', Cookie => 'pz=' . signed('user.4.2', $future, $KEY_NEW)),
   '[user.4.2|cookie]', 'ids with dots');

my $good = signed('c5', $future, $KEY_NEW);
(my $forged = $good) =~ s/^c5/c6/;
is(id_of('/', Cookie => "pz=$forged"), '[|none]', 'forged id: anonymous');

(my $later = $good) =~ s/\.(\d+)\./'.' . ($1 + 1000) . '.'/e;
is(id_of('/', Cookie => "pz=$later"), '[|none]',
   'extended expiry: anonymous');

is(id_of('/', Cookie => 'pz=' . substr($good, 0, length($good) - 1)),
   '[|none]', 'truncated mac: anonymous');
is(id_of('/', Cookie => 'pz=' . substr($good, 0, 10)), '[|none]',
   'truncated to the id: anonymous');
is(id_of('/', Cookie => 'pz=c5'), '[|none]', 'unsigned id: anonymous');
is(id_of('/', Cookie => 'pz=...'), '[|none]', 'dots only: anonymous');
is(id_of('/', Cookie => 'pz='), '[|none]', 'empty cookie: anonymous');
is(id_of('/', Cookie => 'pz=' . signed('a b', $future, $KEY_NEW)),
   '[|none]', 'id with a space: anonymous');
is(id_of('/', Cookie => 'pz=' . ('x' x 5000)), '[|none]',
   'oversized cookie: anonymous');
is(id_of('/', Cookie => 'pz=' . signed('x' x 129, $future, $KEY_NEW)),
   '[|none]', 'id longer than 128 bytes: anonymous');
is(id_of('/', Cookie => 'pz=' . signed('x' x 128, $future, $KEY_NEW)),
   '[' . ('x' x 128) . '|cookie]', 'id of 128 bytes');
is(id_of('/', Cookie => "pz=\x01\x02\xff"), '[|none]',
   'binary garbage: anonymous');

# several Cookie headers, duplicate names: nginx's $cookie_ takes the first

is(id_of('/', Cookie => ['a=1', 'pz=' . signed('c7', $future, $KEY_NEW)]),
   '[c7|cookie]', 'cookie in the second Cookie header');
is(id_of('/', Cookie => 'pz=' . signed('c8', $future, $KEY_NEW)
                        . '; pz=' . signed('c9', $future, $KEY_NEW)),
   '[c8|cookie]', 'duplicate name: the first counts');
is(id_of('/', Cookie => "pz=$forged; pz=$good"), '[|none]',
   'duplicate name with a forged first: anonymous, not the second');

# unsigned cookies

is(id_of('/plain', Cookie => 'vid=v-123'), '[v-123|cookie]', 'plain id');
is(id_of('/plain', Cookie => 'vid=a%20b'), '[|none]',
   'plain id with a forbidden byte: anonymous');
is(id_of('/plain', Cookie => 'vid=' . ('y' x 200)), '[|none]',
   'plain id too long: anonymous');

like($t->error_log, qr/\[info\].*personalize: cookie id ignored: expired/,
     'an expired id is logged at info level');
unlike($t->error_log, qr/\[(error|warn)\].*personalize/,
       'bad cookies log nothing above info');

$t->stop;

done_testing;
