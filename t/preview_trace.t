#!/usr/bin/perl

# The decision trace: with a debug error log, every request that the rules
# decided logs each rule considered, why it matched or not, and the
# decisions; the trace header itself needs a preview token, debug log or
# not.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'anna', segments => ['vip'] },
]);

$t->write_file('blocks/vip.html', "<b>vip</b>\n");
$t->write_file('blocks/new.html', "<b>new</b>\n");

$t->run(<<'EOF');
http {
    error_log %%DIR%%/debug.log debug;

    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_zone rt:1m key=$personalize_id;
    personalize_cap vip 1 1h;

    personalize_rule vip {
        slot hero;
        when segment vip;
        priority 10;
        block %%DIR%%/blocks/vip.html;
    }

    personalize_rule newcomer {
        slot hero;
        when not profile;
        block %%DIR%%/blocks/new.html;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /page {
            add_header X-Slot "[$personalize_slot_hero]" always;
            return 200 "page\n";
        }

        location /static {
            return 200 "static\n";
        }
    }
}
EOF

my $r = $t->get('/page', 'X-Login' => 'anna');
is($r->{headers}{'x-slot'}, '[vip]', 'the vip block wins');
ok(!exists $r->{headers}{'x-personalize-trace'},
   'no trace header without a preview token, even with a debug log');

$r = $t->get('/page', 'X-Login' => 'anna');
is($r->{headers}{'x-slot'}, '[]', 'capped the second time');

$t->get('/static', 'X-Login' => 'anna');

my $log = $t->read_file('debug.log');

SKIP: {
    skip 'nginx without --with-debug', 5 unless $log =~ /\[debug\]/;

    like($log, qr/personalize trace: rule "vip" in "hero": matched/,
         'debug log: the rule that matched');
    like($log, qr/personalize trace: rule "newcomer" in "hero": no match \([^)]+\)/,
         'debug log: the rule that did not, and why');
    like($log, qr/personalize trace: rule "vip" in "hero": no match \(frequency cap reached\)/,
         'debug log: a capped rule');
    like($log, qr/personalize trace: visitor="anna" profile=yes generation=\d+; .*decisions slots=hero:vip/,
         'debug log: one summary line with visitor, generation, decisions');

    my @summaries = $log =~ /(personalize trace: visitor=)/g;
    is(scalar @summaries, 2, 'a summary for each decided request only');
}

$t->stop;

done_testing;
