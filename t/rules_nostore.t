#!/usr/bin/perl

# Rules without a profile store or identity: request conditions still
# decide, profile conditions are false, nothing fails; and with a store
# that is missing on disk, pages keep their defaults without errors.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->write_file('blocks/q.html', '<p>{{first_name|"you"}} searched</p>');
$t->write_file('blocks/vip.html', '<p>vip {{first_name}}</p>');

my $rules = <<'EOF';
    personalize_experiment exp { variant a 50%; variant b 50%; }
    personalize_rule search { slot hero; when var $arg_q exists; priority 5;
                              block blocks/q.html; }
    personalize_rule vip { slot hero; when segment vip; priority 9;
                           block blocks/vip.html; }
    personalize_rule nonvip { slot side; when segment none vip;
                              block blocks/q.html; }
    personalize_rule coupon { when field code exists;
                              prefill coupon "{{code}}"; }
EOF

$t->run(<<"EOF");
http {
$rules
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            return 200 "\$personalize_decisions|\$personalize_block_hero";
        }
    }
}
EOF

my $r = $t->get('/?q=x', 'X-Login' => 'c1');
is($r->{status}, 200, 'no store: 200');
is($r->{body}, 'slots=hero:search,side:nonvip;prompts=-;prefills=-;exp=-|'
               . '<p>you searched</p>',
   'no store: request conditions decide, fallbacks render');

$r = $t->get('/');
is($r->{body}, 'slots=hero:-,side:nonvip;prompts=-;prefills=-;exp=-|',
   'no store: nothing matches but the suppression-style rule');

$t->stop;

my $t2 = PzTest->new;
$t2->write_file('blocks/q.html', $t->read_file('blocks/q.html'));
$t2->write_file('blocks/vip.html', $t->read_file('blocks/vip.html'));

$t2->run(<<"EOF");
http {
    personalize_store %%DIR%%/no-such-store;
    personalize_identity login \$http_x_login;
$rules
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            return 200 "\$personalize_decisions|\$personalize_block_hero";
        }
    }
}
EOF

$r = $t2->get('/?q=x', 'X-Login' => 'c1');
is($r->{status}, 200, 'missing store: 200');
like($r->{body}, qr/^slots=hero:search,side:nonvip;prompts=-;prefills=-;exp=exp:[ab]\|<p>you searched<\/p>$/,
     'missing store: identified visitor in an experiment, defaults');

$t2->stop;

done_testing;
