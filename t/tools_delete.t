#!/usr/bin/perl

# pz-load -D (right to erasure): ids or aliases, one per line or as JSON
# lines with "id"; each named profile goes with all its aliases, all in
# one commit; unknown ids are counted, not fatal; -c -D erases catalog
# items.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $json = JSON::PP->new->canonical;
my $store = $t->dir . '/store';

my @rows = map {
    { id => "c$_", aliases => ["login:$_", "email:$_"], name => "N$_" }
} 1 .. 6;

$t->load_store(\@rows, schema => { name => 'string' },
    catalog => [ { id => 'p1', name => 'Mug' },
                 { id => 'p2', name => 'Cup' } ]);

sub found {
    my ($id, @args) = @_;
    my ($st) = $t->run_tool('pz-get', '-d', $store, @args, $id);
    return $st == 0;
}

sub stat_of {
    my ($key) = @_;
    my ($st, $out) = $t->run_tool('pz-stat', '-d', $store);
    return $out =~ /^ *\Q$key\E: (\d+)$/m ? $1 : -1;
}

my $gen = stat_of('generation');

my $ids = $t->write_file('erase.txt', join("\n",
    'c1', '  email:2  ', '# a comment', '', '{"id":"c3"}', 'nobody', ''));

my ($st, $out) = $t->run_tool('pz-load', '-D', '-d', $store, $ids);
is($st, 0, 'the erasure succeeds') or diag $out;
like($out, qr/3 deleted, 1 not found/, 'it counts deleted and unknown ids');

for my $n (1 .. 3) {
    ok(!found("c$n"), "c$n is gone");
    ok(!found("login:$n") && !found("email:$n"), "the aliases of c$n too");
}

ok(found('c4') && found('login:4'), 'other profiles stay');
is(stat_of('generation'), $gen + 1, 'one commit for the whole list');
is(stat_of('aliases'), 6, 'the aliases database shrank by six');

($st, $out) = $t->run_tool('pz-check', '-d', $store);
is($st, 0, 'the store checks clean') or diag $out;

# a bad line fails the whole list: nothing is erased

my $long = 'x' x 200;
$ids = $t->write_file('bad.txt', "c4\n$long\n");
($st, $out) = $t->run_tool('pz-load', '-D', '-d', $store, $ids);
isnt($st, 0, 'an id too long fails the erasure');
like($out, qr/bad\.txt:2: id of 200 bytes, expected 1 to 128/,
     'with file and line');
ok(found('c4'), 'and nothing of the list is erased');

# catalog items

($st, $out) = $t->run_tool('pz-load', '-c', '-D', '-d', $store,
    $t->write_file('items.txt', "p1\n"));
is($st, 0, 'a catalog erasure succeeds') or diag $out;
ok(!found('p1', '-c'), 'the item is gone');
ok(found('p2', '-c'), 'the other item stays');

# from stdin

my $pid = open(my $in, '|-', $t->tool('pz-load'), '-q', '-D', '-d', $store)
    // die "pz-load: $!";
print $in "c5\n";
close $in;
is($? >> 8, 0, 'ids from stdin');
ok(!found('c5'), 'are erased');

done_testing();
