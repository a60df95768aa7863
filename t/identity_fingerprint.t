#!/usr/bin/perl

# The device fingerprint: a keyed hash of configured headers and the
# client address prefix, only with consent, never with Sec-GPC: 1, and
# only when no other source identified the visitor.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->write_file('k', "fingerprint-test-key-0123456789abcdef\n");
$t->write_file('k2', "another-fingerprint-key-0123456789ab\n");
chmod 0600, $t->dir . '/k', $t->dir . '/k2';

my $conf = <<'EOF';
http {
    personalize_key %%DIR%%/KEYFILE;
    personalize_identity login $http_x_login;
    personalize_fingerprint consent=$cookie_consent
                            headers=User-Agent,Accept-Language;

    server {
        listen 127.0.0.1:%%PORT%%;
        listen [::1]:%%PORT2%%;

        location / {
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /ua {
            personalize_fingerprint consent=$cookie_consent
                                    headers=User-Agent ipv4_prefix=0;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /host {
            personalize_fingerprint consent=$cookie_consent ipv4_prefix=32;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /off {
            personalize_fingerprint off;
            return 200 "[$personalize_id|$personalize_id_source]";
        }
    }
}
EOF

(my $c = $conf) =~ s/KEYFILE/k/;
$t->run($c);

my @ua = ('User-Agent' => 'Mozilla/5.0 test', 'Accept-Language' => 'de');

sub body { my $r = $t->get(@_); $r->{status} == 200 ? $r->{body} : '' }

is(body('/', @ua), '[|none]', 'no consent: no fingerprint');

for my $no ('0', 'no', 'false', 'FALSE', '') {
    is(body('/', @ua, Cookie => "consent=$no"), '[|none]',
       "consent \"$no\" is no consent");
}

my $fp = body('/', @ua, Cookie => 'consent=1');
like($fp, qr/^\[fp:[A-Za-z0-9_-]{22}\|fingerprint\]$/,
     'consent: a fingerprint id');
is(body('/', @ua, Cookie => 'consent=yes'), $fp, 'the same again');

is(body('/', @ua, Cookie => 'consent=1', 'Sec-GPC' => '1'), '[|none]',
   'Sec-GPC: 1 is an opt-out');
is(body('/', @ua, Cookie => 'consent=1', 'Sec-GPC' => '0'), $fp,
   'Sec-GPC: 0 is not');

isnt(body('/', 'User-Agent' => 'Other/1.0', 'Accept-Language' => 'de',
          Cookie => 'consent=1'), $fp, 'another User-Agent, another id');
isnt(body('/', 'User-Agent' => 'Mozilla/5.0 test',
          'Accept-Language' => 'en', Cookie => 'consent=1'), $fp,
     'another Accept-Language, another id');
is(body('/', @ua, Cookie => 'consent=1', 'X-Other' => 'x'), $fp,
   'headers not configured do not count');

is(body('/', @ua, Cookie => 'consent=1', 'X-Login' => 'c1'), '[c1|login]',
   'a login id wins over the fingerprint');

my $ua_only = body('/ua', @ua, Cookie => 'consent=1');
like($ua_only, qr/^\[fp:/, 'fingerprint of User-Agent only');
isnt($ua_only, $fp, 'other headers, other id');
is(body('/ua', 'User-Agent' => 'Mozilla/5.0 test',
        'Accept-Language' => 'fr', Cookie => 'consent=1'), $ua_only,
   'Accept-Language not configured there');

is(body('/off', @ua, Cookie => 'consent=1'), '[|none]',
   'personalize_fingerprint off');

# the client address counts by its prefix: /24 by default, /32 here

is(body('/', @ua, Cookie => 'consent=1', -local => '127.0.0.2'), $fp,
   'another address in the same /24: the same id');
isnt(body('/', @ua, Cookie => 'consent=1', -local => '127.0.1.1'), $fp,
     'an address in another /24: another id');
my $host = body('/host', @ua, Cookie => 'consent=1');
like($host, qr/^\[fp:/, 'fingerprint with ipv4_prefix=32');
isnt(body('/host', @ua, Cookie => 'consent=1', -local => '127.0.0.2'), $host,
     'ipv4_prefix=32: another address, another id');
is(body('/ua', 'User-Agent' => 'Mozilla/5.0 test', Cookie => 'consent=1',
        -local => '127.1.2.3'), $ua_only,
   'ipv4_prefix=0: the address does not count');

my @v6 = (-peer => '::1', -port => $t->port(2));
my $fp6 = body('/', @ua, Cookie => 'consent=1', @v6);
like($fp6, qr/^\[fp:[A-Za-z0-9_-]{22}\|fingerprint\]$/, 'IPv6 client');
isnt($fp6, $fp, 'IPv6 and IPv4 clients differ');
is(body('/', @ua, Cookie => 'consent=1', @v6), $fp6, 'IPv6: stable');
is(body('/', @ua, Cookie => 'consent=1', 'Sec-GPC' => '1', @v6), '[|none]',
   'IPv6: Sec-GPC honoured');

unlike($fp, qr/Mozilla|de/, 'the id does not reveal its input');

# another key, other ids: a fingerprint cannot be computed without it

(my $c2 = $conf) =~ s/KEYFILE/k2/;
$t->reload($c2);

my $fp2 = body('/', @ua, Cookie => 'consent=1');
like($fp2, qr/^\[fp:/, 'fingerprint with another key');
isnt($fp2, $fp, 'another key, another id');

$t->stop;

done_testing;
