#!/usr/bin/perl

# Choosing what wins: the highest priority per slot, ties by order of
# declaration, the page-wide personalize_max_blocks cap, prompts by
# priority up to personalize_max_prompts, prefills per input.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'all', segments => ['low', 'high', 'tie', 'p1', 'p2', 'p3'] },
    { id => 'low', segments => ['low'] },
    { id => 'tie', segments => ['tie', 'low'] },
    { id => 'pp', segments => ['p1', 'p3'] },
]);

for my $b (qw(low high tie1 tie2 s1 s2 s3 pa pb pc)) {
    $t->write_file("blocks/$b.html", "[$b]");
}

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_max_blocks 2;
    personalize_max_prompts 2;

    personalize_rule low  { slot hero; when segment low; priority 10;
                            block blocks/low.html; }
    personalize_rule high { slot hero; when segment high; priority 90;
                            block blocks/high.html; }
    personalize_rule tie1 { slot hero; when segment tie; priority 50;
                            block blocks/tie1.html; }
    personalize_rule tie2 { slot hero; when segment tie; priority 50;
                            block blocks/tie2.html; }

    personalize_rule s1 { slot one; when segment p1; priority 30;
                          block blocks/s1.html; }
    personalize_rule s2 { slot two; when segment p2; priority 20;
                          block blocks/s2.html; }
    personalize_rule s3 { slot three; when segment p3; priority 30;
                          block blocks/s3.html; }

    personalize_rule pa { when segment p1; priority 5; prompt blocks/pa.html; }
    personalize_rule pb { when segment p2; priority 7; prompt blocks/pb.html; }
    personalize_rule pc { when segment p3; priority 5; prompt blocks/pc.html; }

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "hero=$personalize_slot_hero;one=$personalize_slot_one;two=$personalize_slot_two;three=$personalize_slot_three;prompts=$personalize_prompts;html=$personalize_prompt_html;";
        }
    }
}
EOF

sub get {
    my ($id) = @_;
    my %w = $t->get('/', 'X-Login' => $id)->{body} =~ /(\w+)=([^;]*);/g;
    return \%w;
}

is(get('low')->{hero}, 'low', 'a single match wins');
is(get('tie')->{hero}, 'tie1', 'tie: the rule declared first wins');
is(get('all')->{hero}, 'high', 'the highest priority wins');

# "all": hero (90), one (30), three (30), two (20) match; the cap is 2
my $all = get('all');
is($all->{one}, 's1', 'cap: second highest priority kept');
is($all->{three}, '', 'cap: equal priority declared later dropped');
is($all->{two}, '', 'cap: lowest priority dropped');

my $pp = get('pp');
is($pp->{one}, 's1', 'below the cap: slot one filled');
is($pp->{three}, 's3', 'below the cap: slot three filled');

is($all->{prompts}, 'pb,pa', 'prompts by priority, ties by order, capped');
is($all->{html}, '[pb][pa]', 'prompt html in the same order');
is($pp->{prompts}, 'pa,pc', 'prompts of another visitor');

is(get('nobody')->{hero}, '', 'no match: the default stays');

$t->stop;

done_testing;
