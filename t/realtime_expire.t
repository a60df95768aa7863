#!/usr/bin/perl

# personalize_zone expire=: a visitor's state ends after the session's
# inactivity; activity keeps it alive.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->run(<<'EOF');
http {
    personalize_zone rt:1m expire=2s key=$cookie_uid;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /view {
            personalize_event views;
            return 200 "[$personalize_counter_views]\n";
        }

        location /peek {
            return 200 "[$personalize_counter_views]\n";
        }
    }
}
EOF

sub get { $t->get(@_)->{body} =~ s/\n//r }

is(get('/view', Cookie => 'uid=a'), '[0]', 'first view: 0 before it');
is(get('/view', Cookie => 'uid=a'), '[1]', 'second view: 1');
is(get('/view', Cookie => 'uid=b'), '[0]', 'b starts');

# a keeps viewing every second, b does not
for (1 .. 3) {
    select(undef, undef, undef, 1);
    get('/view', Cookie => 'uid=a');
}

is(get('/peek', Cookie => 'uid=a'), '[5]', 'an active visitor keeps state');
is(get('/peek', Cookie => 'uid=b'), '[0]',
   'an inactive visitor\'s state expired');

$t->stop;

done_testing;
