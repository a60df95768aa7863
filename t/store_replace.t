#!/usr/bin/perl

# A store replaced by an atomic rename (pz-load -R builds a new generation
# beside the live one and renames a symlink over the store path) while a
# client keeps requesting: every worker notices within the check interval,
# and not one request fails or loses its profile on the way.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use POSIX qw(WNOHANG);

use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 2);

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $N = 20000;

sub profiles {
    my ($tag) = @_;
    return [ map { { id => "c$_", name => "$tag" } } 1 .. $N ];
}

$t->load_store(profiles('gen-A'), schema => { name => 'string' },
               replace => 1);

ok(-l $t->dir . '/store', 'the store path is a symlink');

$t->run(<<'EOF');
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

is($t->get('/', 'X-Login' => 'c1')->{body}, '[1|gen-A]', 'first generation');

# replaces the store in a child while this process keeps requesting;
# returns (requests, failures, seconds until every answer was new)

sub replace_under_load {
    my ($old, $new) = @_;

    my $pid = fork() // die "fork() failed: $!";

    if ($pid == 0) {
        eval { $t->load_store(profiles($new), schema => { name => 'string' },
                              replace => 1, args => ['-q', '-G', '0']) };
        POSIX::_exit($@ ? 1 : 0);
    }

    my ($n, $bad, $done, $status, $first_new_only) = (0, 0, undef, undef);
    my $streak = 0;
    my $start = time;

    while (time - $start < 30) {
        my $id = 'c' . (1 + int rand $N);
        my $r = $t->get('/', 'X-Login' => $id);
        $n++;

        if ($r->{status} != 200
            || ($r->{body} ne "[1|$old]" && $r->{body} ne "[1|$new]"))
        {
            $bad++;
            diag("request $n for $id: $r->{status} $r->{body}") if $bad < 5;
        }

        if (!defined $done && waitpid($pid, WNOHANG) == $pid) {
            $status = $? >> 8;
            $done = time;
        }

        $streak = $r->{body} eq "[1|$new]" ? $streak + 1 : 0;

        # both workers answered with the new store for a while
        last if defined $done && $streak >= 40;
    }

    return ($n, $bad, $status, defined $done ? time - $done : -1);
}

my ($n, $bad, $st, $lag) = replace_under_load('gen-A', 'gen-B');
is($st, 0, 'pz-load -R succeeded');
is($bad, 0, "replace A -> B: $n requests, none failed");
ok($lag >= 0 && $lag < 4, sprintf('every worker on B within the interval '
                                  . '(%.1fs)', $lag));

($n, $bad, $st, $lag) = replace_under_load('gen-B', 'gen-C');
is($bad, 0, "replace B -> C: $n requests, none failed");
ok($lag >= 0 && $lag < 4, sprintf('every worker on C (%.1fs)', $lag));

my %seen;
$seen{$t->get('/', 'X-Login' => 'c' . (1 + int rand $N))->{body}}++
    for 1 .. 50;
is_deeply([keys %seen], ['[1|gen-C]'], 'only the last generation answers');

my $reopened = () = $t->error_log =~ /personalize store ".*store" opened/g;
ok($reopened >= 6, "opened by 2 workers, then reopened twice each ($reopened)");

# no requests at all: the workers still let go of the old generation

$t->load_store(profiles('gen-D'), schema => { name => 'string' },
               replace => 1, args => ['-q', '-G', '0']);
sleep 2.5;

my @opened = $t->error_log =~ /personalize store ".*store" opened \(generation (\d+)\)/g;
my $last = $opened[-1];
my $n_last = grep { $_ == $last } @opened;
is($n_last, 2, "idle workers both opened the new generation $last by "
               . "themselves");

my $old_open = 0;
for my $w ($t->workers) {
    $old_open += grep { /\(deleted\)/ && /data\.mdb/ }
                 map { readlink($_) // '' } glob("/proc/$w/fd/*");
}
is($old_open, 0, 'no worker holds a deleted data.mdb open');

$t->stop;

done_testing;
