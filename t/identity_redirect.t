#!/usr/bin/perl

# The visitor is resolved once per main request: an internal redirect
# (try_files, error_page, named location) keeps the identity and profile
# found before it, instead of resolving again in the new location.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->run(<<'EOF');
http {
    personalize_identity login $http_x_login;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /first {
            set $seen "$personalize_id";
            try_files /no-such-file /second;
        }

        location /second {
            personalize_identity off;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /lazy {
            try_files /no-such-file /second;
        }

        location /err {
            set $seen "$personalize_id";
            error_page 404 = @fallback;
            return 404;
        }

        location @fallback {
            personalize_identity off;
            return 200 "[$personalize_id|$personalize_id_source]";
        }
    }
}
EOF

is($t->get('/first', 'X-Login' => 'c1')->{body}, '[c1|login]',
   'the identity found before try_files stays');
is($t->get('/err', 'X-Login' => 'c1')->{body}, '[c1|login]',
   'the identity found before error_page stays');
is($t->get('/lazy', 'X-Login' => 'c1')->{body}, '[|none]',
   'not used before the redirect: resolved where first used');

$t->stop;

done_testing;
