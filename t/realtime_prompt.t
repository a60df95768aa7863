#!/usr/bin/perl

# Sense and respond: a chat prompt after exactly N failed searches (the
# upstream answered X-Results-Count: 0) and not before, through the rules
# module's "when counter"; frequency caps (personalize_cap) limit how often
# it shows, per visitor and period; caps and counters survive a reload.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $N = 3;

my $t = PzTest->new(workers => 2);

$t->write_file('blocks/help.html', "<div>Can I help you?</div>\n");
$t->write_file('blocks/back.html', "<div>Welcome back</div>\n");

my $conf = <<'EOF';
http {
    map $upstream_http_x_results_count $no_results {
        "0"      1;
        default  0;
    }

    personalize_zone rt:1m key=$cookie_uid;
    personalize_cap help-chat 1 1h;
    personalize_cap welcome 2 %%PERIOD%%;

    personalize_rule help-chat {
        when counter failed_searches >= %%N%%;
        priority 50;
        prompt %%DIR%%/blocks/help.html;
    }

    personalize_rule welcome {
        slot hero;
        when counter pages >= 1;
        block %%DIR%%/blocks/back.html;
    }

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
            add_header X-Prompts "[$personalize_prompts]" always;
            proxy_pass http://127.0.0.1:%%PORT2%%/backend;
        }

        location /page {
            personalize_event pages;
            add_header X-Prompts "[$personalize_prompts]" always;
            add_header X-Hero "[$personalize_slot_hero]" always;
            return 200 "page\n";
        }
    }
}
EOF

sub conf {
    my ($period) = @_;
    (my $c = $conf) =~ s/%%N%%/$N/g;
    $c =~ s/%%PERIOD%%/$period/g;
    return $c;
}

$t->run(conf('1h'));

sub search {
    my ($uid, $n) = @_;
    return $t->get("/search?q=x&n=$n", Cookie => "uid=$uid")
        ->{headers}{'x-prompts'};
}

# the counter is read before this request counts: the prompt comes with
# the request after the N-th failed search
for my $i (1 .. $N) {
    is(search('a', 0), '[]', "no prompt with failed search $i");
}

is(search('a', 7), '[help-chat]',
   "the prompt after exactly $N failed searches");
is(search('a', 0), '[]', 'capped: not again within the hour');
is(search('a', 7), '[]', 'still capped');

is(search('b', 0), '[]', 'another visitor: no prompt yet');

# a block with a cap of 2: shown twice, then the default stays
my @hero = map {
    $t->get('/page', Cookie => 'uid=c')->{headers}{'x-hero'}
} 1 .. 4;
is_deeply(\@hero, ['[]', '[welcome]', '[welcome]', '[]'],
          'a block capped at 2 shows twice, after the first page');

# a reload keeps what was shown
$t->reload(conf('1h'));
is($t->get('/page', Cookie => 'uid=c')->{headers}{'x-hero'}, '[]',
   'caps survive a reload');
is(search('a', 7), '[]', 'the prompt cap too');

# a shorter period applies to the showings already recorded
$t->reload(conf('2s'));
select(undef, undef, undef, 2.1);

is($t->get('/page', Cookie => 'uid=c')->{headers}{'x-hero'}, '[welcome]',
   'the block is back when the new period is over');
is($t->get('/page', Cookie => 'uid=c')->{headers}{'x-hero'}, '[welcome]',
   'second showing');
is($t->get('/page', Cookie => 'uid=c')->{headers}{'x-hero'}, '[]',
   'then capped');

select(undef, undef, undef, 2.1);

is($t->get('/page', Cookie => 'uid=c')->{headers}{'x-hero'}, '[welcome]',
   'and back again when the period is over');

$t->stop;

done_testing;
