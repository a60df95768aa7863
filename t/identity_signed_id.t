#!/usr/bin/perl

# $personalize_signed_id mints a signed id for Set-Cookie; it verifies in
# the module and with pz-sign; personalize_sign_ttl sets its lifetime.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_base64);
use Test::More;

use lib 't/lib';
use PzTest;

my $KEY = 'signed-id-test-key-0123456789abcdef';

my $t = PzTest->new;

$t->write_file('k', "$KEY\n");
chmod 0600, $t->dir . '/k';

$t->run(<<'EOF');
http {
    personalize_key %%DIR%%/k;
    personalize_sign_ttl 2h;

    personalize_identity login $http_x_login;
    personalize_identity cookie $cookie_pz signed;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            add_header Set-Cookie "pz=$personalize_signed_id; Path=/";
            return 200 "[$personalize_id|$personalize_id_source]";
        }
    }
}
EOF

my $r = $t->get('/', 'X-Login' => 'cust.7');
my ($signed) = ($r->{headers}{'set-cookie'} || '') =~ /^pz=([^;]+)/;

ok($signed, 'a signed id for the login');
my ($id, $exp, $mac) = ($signed || '') =~ /^(.*)\.(\d+)\.([A-Za-z0-9_-]{43})$/;
is($id, 'cust.7', 'it carries the id');
ok($exp && abs($exp - (time + 7200)) <= 5, 'expires after personalize_sign_ttl');
(my $want = hmac_sha256_base64("pz1:$id.$exp", $KEY)) =~ tr{+/}{-_};
is($mac, $want, 'its mac is HMAC-SHA256 over "pz1:id.expires"');

$r = $t->get('/', Cookie => "pz=$signed");
is($r->{body}, '[cust.7|cookie]', 'the module accepts it back');

$r = $t->get('/');
is($r->{headers}{'set-cookie'} || '', 'pz=; Path=/',
   'anonymous: no signed id');

SKIP: {
    skip 'pz-sign not built', 2 unless $t->has_tool('pz-sign');

    my ($st, $out) = $t->run_tool('pz-sign', '-v', '-k', $t->dir . '/k',
                                  $signed);
    is($st, 0, 'pz-sign verifies the id of the module');
    like($out, qr/^cust\.7\t$exp$/m, 'pz-sign prints the id and expiry');
}

$t->stop;

done_testing;
