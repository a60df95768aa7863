#!/usr/bin/perl

# personalize_event: counters that count qualifying requests once each,
# after the upstream answered, and recent values with push= and keep=.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $N = 3;

my $t = PzTest->new(workers => 2);

$t->run(<<'EOF');
http {
    map $upstream_http_x_results_count $no_results {
        "0"      1;
        default  0;
    }

    map $status $status404 {
        404      1;
        default  0;
    }

    personalize_zone rt:1m expire=30m key=$cookie_uid;

    server {
        listen 127.0.0.1:%%PORT2%%;

        location /backend {
            add_header X-Results-Count $arg_n;
            return 200 "results\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /search {
            personalize_event failed_searches if=$no_results;
            proxy_pass http://127.0.0.1:%%PORT2%%/backend;
        }

        location ~ ^/product/(?<product>[a-z0-9-]+)$ {
            personalize_event viewed_products push=$product keep=3;
            return 200 "product $product\n";
        }

        location /missing {
            personalize_event not_found if=$status404;
            return 404;
        }

        location /page {
            add_header X-Failed $personalize_counter_failed_searches always;
            add_header X-Viewed $personalize_counter_viewed_products always;
            add_header X-Missing $personalize_counter_not_found always;
            add_header X-Recent $personalize_recent_viewed_products always;
            add_header X-Unknown "[$personalize_counter_nonesuch]" always;
            return 200 "page\n";
        }
    }
}
EOF

sub page {
    my ($uid) = @_;
    return $t->get('/page', $uid ? (Cookie => "uid=$uid") : ());
}

sub failed { page(@_)->{headers}{'x-failed'} }

is(failed('a'), 0, 'no failed searches before any search');

my $r = $t->get('/search?q=shoes&n=12', Cookie => 'uid=a');
is($r->{status}, 200, 'search with results passes');
is(failed('a'), 0, 'a search with results does not count');

for my $i (1 .. $N) {
    $r = $t->get("/search?q=xyz$i&n=0", Cookie => 'uid=a');
    is($r->{status}, 200, "failed search $i is served");
    is(failed('a'), $i, "after $i failed searches the counter is $i");
}

is(failed('b'), 0, 'another visitor has his own counter');

$r = $t->get('/search?q=none&n=0');
is($r->{status}, 200, 'a visitor without a key is served');
is(failed(undef), undef, 'and has no counter');

$t->get('/search?q=none&n=0', Cookie => 'uid=b');
is(failed('b'), 1, 'the other visitor counts from one');
is(failed('a'), $N, 'and the first one keeps his count');

$t->get('/missing', Cookie => 'uid=c');
$t->get('/missing', Cookie => 'uid=c');
is(page('c')->{headers}{'x-missing'}, 2,
   'an event on the response status counts');

for my $p (qw(p1 p2 p1 p3 p4)) {
    $t->get("/product/$p", Cookie => 'uid=c');
}

$r = page('c');
is($r->{headers}{'x-viewed'}, 5, 'every product view counts');
is($r->{headers}{'x-recent'}, 'p4,p3,p1',
   'recent values: most recent first, distinct, keep=3');
is($r->{headers}{'x-unknown'}, '[]', 'an undeclared counter is empty');

$r = page('d');
is($r->{headers}{'x-recent'}, undef, 'no recent values yet: empty');

$t->stop;

done_testing;
