#!/usr/bin/perl

# personalize_zone without key=: counters belong to the visitor that the
# core module identified (personalize_identity), anonymous visitors have
# none.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->run(<<'EOF');
http {
    personalize_zone rt:1m;
    personalize_identity login $http_x_login;
    personalize_identity cookie $cookie_pzid;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /cart/add {
            personalize_event add_to_cart if=$arg_sku;
            return 204;
        }

        location /page {
            add_header X-Adds "[$personalize_counter_add_to_cart]" always;
            add_header X-Source $personalize_id_source always;
            return 200 "page\n";
        }
    }
}
EOF

sub adds {
    my $r = $t->get('/page', @_);
    return $r->{headers}{'x-adds'};
}

is(adds('X-Login' => 'anna'), '[0]', 'a known visitor starts at 0');

$t->get('/cart/add?sku=1', 'X-Login' => 'anna');
$t->get('/cart/add?sku=2', 'X-Login' => 'anna');
$t->get('/cart/add', 'X-Login' => 'anna');

is(adds('X-Login' => 'anna'), '[2]',
   'two adds with a sku counted for the logged-in visitor');
is(adds(Cookie => 'pzid=anna'), '[2]',
   'the same id from the cookie sees the same counter');
is(adds(Cookie => 'pzid=bert'), '[0]', 'another visitor does not');

my $r = $t->get('/cart/add?sku=3');
is($r->{status}, 204, 'an anonymous request is served');
is(adds(), '[]', 'an anonymous visitor has no counter');

$t->stop;

done_testing;
