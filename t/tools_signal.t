#!/usr/bin/perl

# SIGINT and SIGTERM abort pz-load's transaction: the store stays exactly
# as it was, for an upsert (with and without parser threads) and for a
# replace (the live generation stays, the half-built one is removed).

use strict;
use warnings;

use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $dir = $t->dir;

$t->load_store([ map { { id => "c$_", name => "old$_" } } 1 .. 50 ],
               schema => { name => 'string' }, replace => 1);

my $store = "$dir/store";

sub snapshot {
    my ($st, $out) = $t->run_tool('pz-dump', '-d', $store);
    return $st . $out;
}

sub gens {
    opendir my $d, $dir or die;
    return sort grep { /^store\.gen-\d+$/ } readdir $d;
}

# feeds rows into pz-load through a pipe, then signals it while it waits
# for more; returns (exit status, seconds to exit, stderr)

sub interrupt {
    my ($signal, @args) = @_;

    pipe(my $r, my $w) or die "pipe: $!";
    my $err = "$dir/stderr.$signal";

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        close $w;
        open STDIN, '<&', $r or die;
        open STDERR, '>', $err or die;
        exec $t->tool('pz-load'), '-d', $store, @args;
        die "exec: $!";
    }

    close $r;
    my $old = select $w;
    $| = 1;
    select $old;

    print $w qq{{"id":"c$_","name":"new$_"}\n} for 1 .. 2000;
    sleep 0.5;

    kill $signal, $pid;
    my $start = time();

    my $done = 0;
    while (time() - $start < 10) {
        $done = waitpid($pid, WNOHANG) and last;
        sleep 0.05;
    }

    my $status = $done ? $? : -1;
    kill 'KILL', $pid unless $done;
    close $w;

    return ($status, time() - $start, $t->read_file("stderr.$signal"));
}

my $before = snapshot();
my @gens = gens();

for my $case (['INT', '-j', '0'], ['TERM', '-j', '0'], ['INT'], ['TERM'],
              ['INT', '-R'], ['TERM', '-R', '-j', '0'],
              # with -x a pipe is copied before it is read (pz_input_copy)
              ['INT', '-R', '-x', "$dir/rejects"])
{
    my ($signal, @args) = @$case;
    my $name = "SIG$signal" . (@args ? " (@args)" : '');

    my ($status, $secs, $err) = interrupt($signal, @args);

    ok($status > 0 && ($status >> 8) != 0, "$name: pz-load exits failing");
    ok($secs < 5, "$name: promptly");
    like($err, qr/^pz-load: interrupted$/m, "$name: says it was interrupted");
    like($err, qr/nothing was committed|the live store is unchanged/,
         "$name: says the store is as it was");
    is(snapshot(), $before, "$name: the store is as it was");
    is_deeply([gens()], \@gens, "$name: no generation left behind");
}

my ($st, $out) = $t->run_tool('pz-check', '-d', $store);
is($st, 0, 'the store checks clean') or diag $out;

done_testing();
