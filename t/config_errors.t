#!/usr/bin/perl

# Every configuration mistake of the core module's directives is an
# "nginx -t" failure naming the file and line of the directive at fault.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->write_file('good.key', "good-key-0123456789abcdef0123456789\n");
$t->write_file('short.key', "short\n");
chmod 0600, map { $t->dir . "/$_" } qw(good.key short.key);

# each case: name, the http block's inside (the line marked "# HERE" is at
# fault), expected message
my @cases = (
    ['duplicate store', <<'EOF', qr/"personalize_store" directive is duplicate/],
personalize_store %%DIR%%/a;
personalize_store %%DIR%%/b; # HERE
EOF
    ['store parameter', <<'EOF', qr/invalid parameter "size=1" in personalize_store/],
personalize_store %%DIR%%/a size=1; # HERE
EOF
    ['store check zero', <<'EOF', qr/invalid check interval "0" in personalize_store/],
personalize_store %%DIR%%/a check=0; # HERE
EOF
    ['store check syntax', <<'EOF', qr/invalid check interval "5x"/],
personalize_store %%DIR%%/a check=5x; # HERE
EOF
    ['store in a server', <<'EOF', qr/"personalize_store" directive is not allowed here/],
server {
    personalize_store %%DIR%%/a; # HERE
}
EOF
    ['store without a path', <<'EOF', qr/invalid number of arguments in "personalize_store"/],
personalize_store; # HERE
EOF
    ['unknown source', <<'EOF', qr/unknown identity source "header"/],
personalize_identity header $http_x_id; # HERE
EOF
    ['source parameter', <<'EOF', qr/invalid parameter "sign" in personalize_identity, expected "signed"/],
personalize_identity cookie $cookie_pz sign; # HERE
EOF
    ['constant identity', <<'EOF', qr/personalize_identity login "c1" has no variables/],
personalize_identity login c1; # HERE
EOF
    ['identity without a value', <<'EOF', qr/personalize_identity needs a source and a value/],
personalize_identity cookie; # HERE
EOF
    ['signed without a key', <<'EOF', qr/personalize_identity "signed" needs a personalize_key/],
personalize_identity login $http_x_login;
personalize_identity cookie $cookie_pz signed; # HERE
server { listen 127.0.0.1:%%PORT%%; }
EOF
    ['signed without a key in a location', <<'EOF', qr/personalize_identity "signed" needs a personalize_key/],
server {
    listen 127.0.0.1:%%PORT%%;
    location / {
        personalize_identity cookie $cookie_pz signed; # HERE
    }
}
EOF
    ['identity after off', <<'EOF', qr/"personalize_identity" directive cannot follow "personalize_identity off"/],
personalize_identity off;
personalize_identity cookie $cookie_pz; # HERE
EOF
    ['off after a source', <<'EOF', qr/"off" cannot follow another personalize_identity/],
personalize_identity cookie $cookie_pz;
personalize_identity off; # HERE
EOF
    ['unknown variable', <<'EOF', qr/unknown "no_such_variable" variable/],
personalize_identity cookie $no_such_variable; # HERE
EOF
    ['fingerprint without consent', <<'EOF', qr/personalize_fingerprint needs "consent="/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint headers=User-Agent; # HERE
EOF
    ['constant consent', <<'EOF', qr/consent "yes" has no variables/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=yes; # HERE
EOF
    ['fingerprint parameter', <<'EOF', qr/invalid parameter "salt=x" in personalize_fingerprint/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=$cookie_c salt=x; # HERE
EOF
    ['ipv4 prefix', <<'EOF', qr/invalid parameter "ipv4_prefix=33"/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=$cookie_c ipv4_prefix=33; # HERE
EOF
    ['ipv6 prefix', <<'EOF', qr/invalid parameter "ipv6_prefix=129"/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=$cookie_c ipv6_prefix=129; # HERE
EOF
    ['empty header name', <<'EOF', qr/empty header name in "headers=User-Agent,,Accept"/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=$cookie_c headers=User-Agent,,Accept; # HERE
EOF
    ['duplicate fingerprint parameter', <<'EOF', qr/duplicate parameter "consent=\$cookie_d"/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=$cookie_c consent=$cookie_d; # HERE
EOF
    ['duplicate fingerprint', <<'EOF', qr/"personalize_fingerprint" directive is duplicate/],
personalize_key %%DIR%%/good.key;
personalize_fingerprint consent=$cookie_c;
personalize_fingerprint consent=$cookie_d; # HERE
EOF
    ['fingerprint without a key', <<'EOF', qr/personalize_fingerprint needs a personalize_key/],
personalize_fingerprint consent=$cookie_c; # HERE
server { listen 127.0.0.1:%%PORT%%; }
EOF
    ['missing key file', <<'EOF', qr/open\(\) ".*no-such.key" failed/],
personalize_key %%DIR%%/no-such.key; # HERE
EOF
    ['short key', <<'EOF', qr/key file ".*short.key" holds a too short key: 32 to 1024 bytes/],
personalize_key %%DIR%%/short.key; # HERE
EOF
    ['key in a location', <<'EOF', qr/"personalize_key" directive is not allowed here/],
server {
    location / {
        personalize_key %%DIR%%/good.key; # HERE
    }
}
EOF
    ['sign ttl syntax', <<'EOF', qr/"personalize_sign_ttl" directive invalid value/],
personalize_sign_ttl forever; # HERE
EOF
    ['sign ttl zero', <<'EOF', qr/"personalize_sign_ttl" directive must be between 1s and 3650d/],
personalize_sign_ttl 0; # HERE
EOF
);

for my $c (@cases) {
    my ($name, $body, $re) = @$c;

    my ($ok, $out) = $t->nginx_t("http {\n$body}\n");
    my $line = $t->line_of(qr/# HERE/);

    ok(!$ok, "$name: nginx -t fails");
    like($out, qr/\[emerg\] .*$re/, "$name: message") or diag($out);

    # "unknown variable" is found after parsing, without a line
    next if $name eq 'unknown variable';

    like($out, qr/nginx-t\.conf:$line\b/, "$name: file and line $line")
        or diag($out);
}

my ($ok, $out) = $t->nginx_t(<<'EOF');
http {
    personalize_store %%DIR%%/store check=10s;
    personalize_key %%DIR%%/good.key;
    personalize_key %%DIR%%/good.key;
    personalize_sign_ttl 7d;
    personalize_identity login $http_x_login;
    personalize_identity cookie $cookie_pz signed;
    personalize_fingerprint consent=$cookie_consent headers=User-Agent
                            ipv4_prefix=16 ipv6_prefix=64;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            personalize_identity off;
            personalize_fingerprint off;
            return 200 "$personalize_id $personalize_field_x";
        }
    }
}
EOF
ok($ok, 'every directive in a good configuration passes') or diag($out);

$t->stop;

done_testing;
