#!/usr/bin/perl

# pz-load -r DAYS drops the profiles not updated for that many days (by
# the _updated_at time the loader writes on every row), with their
# aliases, in one commit; fresh profiles stay.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use POSIX qw(strftime);

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $store = $t->dir . '/store';

sub ago {
    my ($days) = @_;
    return strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time() - $days * 86400));
}

my %age = (old1 => 40, old2 => 31, edge => 29, new1 => 0);
my %stamp = map { $_ => ago($age{$_}) } keys %age;

$t->load_store([
    (map { { id => $_, aliases => ["a-$_"], _updated_at => $stamp{$_} } }
         grep { $_ ne 'new1' } sort keys %age),
    { id => 'new1', aliases => ['a-new1'] },
], schema => { name => 'string' });

sub found {
    my ($id) = @_;
    my ($st) = $t->run_tool('pz-get', '-d', $store, $id);
    return $st == 0;
}

my ($st, $out) = $t->run_tool('pz-get', '-d', $store, 'old1');
like($out, qr/"_updated_at":"\Q$stamp{old1}\E"/,
     'a given _updated_at is kept');

($st, $out) = $t->run_tool('pz-load', '-r', '30', '-d', $store);
is($st, 0, 'retention succeeds') or diag $out;

my $dropped = grep { $age{$_} > 30 } keys %age;
like($out, qr/$dropped profiles older than 30 days dropped/,
     'it counts the dropped profiles');

for my $id (sort keys %age) {
    if ($age{$id} > 30) {
        ok(!found($id), "$id ($age{$id} days) is dropped");
        ok(!found("a-$id"), "with its alias");

    } else {
        ok(found($id), "$id ($age{$id} days) stays");
        ok(found("a-$id"), "with its alias");
    }
}

($st, $out) = $t->run_tool('pz-check', '-d', $store);
is($st, 0, 'the store checks clean') or diag $out;

($st, $out) = $t->run_tool('pz-load', '-r', '0', '-d', $store);
isnt($st, 0, 'zero days is refused');
like($out, qr/-r 0: expected a number of days/, 'with the reason');

($st, $out) = $t->run_tool('pz-load', '-r', '30', '-d', $store, 'file');
isnt($st, 0, 'retention takes no input files');

done_testing();
