#!/usr/bin/perl

# A missing store: nginx -t and nginx start with a warning, every page is
# served unpersonalized, the store is retried (and the failure logged) once
# per check interval, and used as soon as it appears.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 1);

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $conf = <<'EOF';
http {
    personalize_store %%DIR%%/store check=1s;
    personalize_identity login $http_x_login;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[$personalize_profile|$personalize_field_name]";
        }
    }
}
EOF

my ($ok, $out) = $t->nginx_t($conf);
ok($ok, 'nginx -t passes without the store');
like($out, qr/\[warn\].*personalize_store ".*store" is not usable yet/,
     'nginx -t warns about the missing store');

$t->run($conf);

my $start = time;
my ($fails, $n) = (0, 0);

while (time - $start < 3.2) {
    my $r = $t->get('/', 'X-Login' => 'c1');
    $fails++ unless $r->{status} == 200 && $r->{body} eq '[0|]';
    $n++;
    sleep 0.05;
}

is($fails, 0, "$n requests without a store: all unpersonalized pages");

my $warns = () = $t->error_log =~ /\[warn\].*personalize store unavailable/g;
ok($warns >= 2 && $warns <= 6,
   "the missing store is logged once per interval ($warns times in ~4s)");

$t->load_store([{ id => 'c1', name => 'Anna' }],
               schema => { name => 'string' });

my $seen = 0;
for (1 .. 60) {
    my $r = $t->get('/', 'X-Login' => 'c1');
    if ($r->{body} eq '[1|Anna]') {
        $seen = 1;
        last;
    }
    sleep 0.05;
}

ok($seen, 'the store is used once it appears, within the interval');
like($t->error_log, qr/\[info\].*personalize store ".*store" opened/,
     'the opening is logged');

$t->stop;

done_testing;
