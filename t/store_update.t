#!/usr/bin/perl

# Changes committed into the live store (pz-load upserts) are seen by the
# very next request, without a reload, and a large upsert running while a
# client keeps requesting fails not one request.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use POSIX qw(WNOHANG);

use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 2);

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my %schema = (name => 'string', visits => 'int', segments => 'list');

$t->load_store([{ id => 'c1', name => 'v0', visits => 0 }],
               schema => \%schema);

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store check=1h;
    personalize_identity login $http_x_login;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[$personalize_profile|$personalize_field_name|$personalize_field_visits|$personalize_store_generation]";
        }
    }
}
EOF

my ($gen0) = $t->get('/', 'X-Login' => 'c1')->{body} =~ /\|(\d+)\]$/;

for my $i (1 .. 5) {
    $t->load_store([{ id => 'c1', name => "v$i", visits => $i }],
                   schema => \%schema);

    # two requests: both workers, whichever answers
    my @b = map { $t->get('/', 'X-Login' => 'c1')->{body} } 1 .. 2;
    is_deeply(\@b, [("[1|v$i|$i|" . ($gen0 + $i) . ']') x 2],
              "upsert $i seen by the next requests");
}

is($t->get('/', 'X-Login' => 'new1')->{body}, '[0|||' . ($gen0 + 5) . ']',
   'not yet there');
$t->load_store([{ id => 'new1', name => 'fresh' }], schema => \%schema);
like($t->get('/', 'X-Login' => 'new1')->{body}, qr/^\[1\|fresh\|\|/,
     'a new profile is there at once');

# a large upsert in batches while requesting

my $N = 30000;
my $pid = fork() // die "fork() failed: $!";

if ($pid == 0) {
    eval {
        $t->load_store([ map { { id => "b$_", name => "bulk",
                                 segments => ['s1', 's2'] } } 1 .. $N ],
                       schema => \%schema, args => ['-q', '-b', '1000']);
    };
    POSIX::_exit($@ ? 1 : 0);
}

my ($n, $bad, $status, $found) = (0, 0, undef, 0);
my $start = time;

while (time - $start < 60) {
    my $r = $t->get('/', 'X-Login' => 'c1');
    $n++;
    $bad++ unless $r->{status} == 200 && $r->{body} =~ /^\[1\|v5\|5\|\d+\]$/;

    my $b = $t->get('/', 'X-Login' => 'b' . (1 + int rand $N));
    $n++;
    $bad++ unless $b->{status} == 200
                  && $b->{body} =~ /^\[(0\|\|\||1\|bulk\|\|)\d+\]$/;
    $found++ if $b->{body} =~ /^\[1/;

    if (waitpid($pid, WNOHANG) == $pid) {
        $status = $? >> 8;
        last;
    }
}

is($status, 0, 'the bulk upsert succeeded');
is($bad, 0, "$n requests during the bulk upsert, none failed");
ok($found > 0, "batches were visible while loading ($found hits)");
is($t->get('/', 'X-Login' => "b$N")->{body} =~ /^\[1\|bulk/ ? 1 : 0, 1,
   'the last profile is there after the load');

$t->stop;

done_testing;
