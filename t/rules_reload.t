#!/usr/bin/perl

# A rule change goes live with a graceful reload: changed conditions,
# priorities and templates are seen by the next request.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([{ id => 'c1', segments => ['vip'], first_name => 'Anna' }],
               schema => { segments => 'list', first_name => 'string' });

$t->write_file('blocks/one.html', 'one {{first_name}}');
$t->write_file('blocks/two.html', 'two {{first_name}}');

my $conf = <<'EOF';
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    personalize_rule first { slot hero; when segment vip; priority %%P1%%;
                             block blocks/one.html; }
    personalize_rule second { slot hero; when segment %%SEG%%; priority 50;
                              block blocks/two.html; }

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "$personalize_slot_hero:$personalize_block_hero"; }
    }
}
EOF

sub conf {
    my ($p1, $seg) = @_;
    (my $c = $conf) =~ s/%%P1%%/$p1/;
    $c =~ s/%%SEG%%/$seg/;
    return $c;
}

$t->run(conf(90, 'vip'));
is($t->get('/', 'X-Login' => 'c1')->{body}, 'first:one Anna',
   'before: the higher priority rule wins');

$t->reload(conf(10, 'vip'));
is($t->get('/', 'X-Login' => 'c1')->{body}, 'second:two Anna',
   'after a priority change and reload: the other rule wins');

$t->reload(conf(10, 'nobody'));
is($t->get('/', 'X-Login' => 'c1')->{body}, 'first:one Anna',
   'after a condition change and reload');

$t->write_file('blocks/one.html', 'new one {{first_name}}');
$t->reload(conf(10, 'nobody'));
is($t->get('/', 'X-Login' => 'c1')->{body}, 'first:new one Anna',
   'a changed template is read again on reload');

$t->stop;

done_testing;
