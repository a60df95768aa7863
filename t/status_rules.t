#!/usr/bin/perl

# personalize_status with rules: rule wins per slot and rule, prompts,
# prefills and experiment exposures per variant after a scripted sequence;
# requests that never asked for decisions and preview requests count
# nothing there.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 2);

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'anna', segments => ['vip'], code => 'ANNA10' },
    { id => 'bert', segments => [] },
], schema => { segments => 'list', code => 'string' });

$t->write_file('blocks/vip.html', "<b>vip</b>\n");
$t->write_file('blocks/help.html', "<i>help?</i>\n");
$t->write_file('preview.key', 'p' x 40);

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_preview_key %%DIR%%/preview.key;

    personalize_experiment test {
        variant on 100%;
    }

    personalize_rule vip {
        slot hero;
        when segment vip;
        block %%DIR%%/blocks/vip.html;
    }

    personalize_rule help {
        when var $arg_help exists;
        prompt %%DIR%%/blocks/help.html;
    }

    personalize_rule coupon {
        when field code exists;
        prefill coupon "{{code}}";
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /page {
            add_header X-Decisions $personalize_decisions always;
            return 200 "page\n";
        }

        location /plain {
            add_header X-Test $personalize_variant_test always;
            return 200 "plain\n";
        }

        location /status {
            personalize_status;
        }
    }
}
EOF

$t->get('/page', 'X-Login' => 'anna') for 1 .. 3;
$t->get('/page?help=1', 'X-Login' => 'anna');
$t->get('/page?help=1', 'X-Login' => 'bert') for 1 .. 2;
$t->get('/page');
$t->get('/plain', 'X-Login' => 'anna') for 1 .. 5;

my $r = $t->get('/status');
my %m = map { /^(\S+) (\d+)$/ ? ($1 => $2) : () } split /\n/, $r->{body};

is($m{'personalize_rule_wins_total{slot="hero",rule="vip"}'}, 4,
   'rule wins per slot and rule');
is($m{'personalize_prompts_total{rule="help"}'}, 3, 'prompts shown');
is($m{'personalize_prefills_total{input="coupon",rule="coupon"}'}, 4,
   'prefills');
is($m{'personalize_exposures_total{experiment="test",variant="on"}'}, 6,
   'exposures per variant: identified visitors with decisions only');
ok(!grep(/rule="-"/, keys %m), 'empty slots are not counted');

$t->stop;

done_testing;
