#!/usr/bin/perl

# One request is one decision: a frequency cap counts a showing once even
# when the decisions were made before an internal redirect (error_page,
# try_files, named locations) and read again after it, and the slot keeps
# the rule decided first.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 1);

$t->write_file('blocks/hero.html', "<b>hero</b>\n");

$t->run(<<'EOF');
http {
    personalize_zone rt:1m key=$cookie_uid;
    personalize_cap capped-hero 2 1h;

    personalize_rule capped-hero {
        slot hero;
        block %%DIR%%/blocks/hero.html;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /decide-then-redirect {
            set $before $personalize_slot_hero;
            error_page 404 = @page;
            return 404;
        }

        location /redirect {
            error_page 404 = @page;
            return 404;
        }

        location @page {
            personalize on;
            default_type text/html;
            add_header X-Hero "[$personalize_slot_hero]" always;
            return 200 "<!-- personalize:hero -->default<!-- /personalize:hero -->\n";
        }
    }
}
EOF

sub hero {
    my ($uri, $uid) = @_;
    my $r = $t->get($uri, Cookie => "uid=$uid");
    return $r->{status} . ' ' . ($r->{headers}{'x-hero'} // '-') . ' '
        . $r->{body};
}

is(hero('/decide-then-redirect', 'v1'), "200 [capped-hero] <b>hero</b>\n\n",
   'decided before the redirect: the block is shown');
is(hero('/decide-then-redirect', 'v1'), "200 [capped-hero] <b>hero</b>\n\n",
   'a cap of 2 shows it a second time: the redirect did not count twice');
is(hero('/decide-then-redirect', 'v1'), "200 [] default\n", 'then the cap holds');

is(hero('/redirect', 'v2'), "200 [capped-hero] <b>hero</b>\n\n",
   'decided after the redirect only');
is(hero('/redirect', 'v2'), "200 [capped-hero] <b>hero</b>\n\n", 'a second time');
is(hero('/redirect', 'v2'), "200 [] default\n", 'then the cap holds');

$t->stop;

done_testing;
