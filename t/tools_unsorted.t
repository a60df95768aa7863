#!/usr/bin/perl

# A build (full replace, or the first load into an empty store) appends
# profiles while their ids come in order; rows out of order go through a
# sorter (lmdb-tools/pz-load-order.c) and are written once the input is
# read.  Shuffled input gives the very store that sorted input gives;
# duplicates, bad rows and alias conflicts are found and named as before,
# by file and line; -x gets the rows as they were, from a pipe too (its
# input is copied).  PZ_TEST_SORT_MEM makes the sorters small, so that
# their runs and merges are used.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');
plan skip_all => 'mdb_dump not installed' unless `which mdb_dump` =~ /\S/;

my $dir = $t->dir;

$t->write_file('schema.json', '{"segments": "list", "first_name": "string",'
    . ' "orders": "int", "clv": "decimal"}');

my @sorted = map {
    my $id = sprintf('c%04d', $_);
    qq({"id":"$id","aliases":["login:$_","email:) . (7919 * $_ % 10007)
    . qq("],"segments":["s) . ($_ % 7) . qq("],"first_name":"N$_",)
    . qq("orders":$_,"clv":"$_.5","_updated_at":1790000000})
} 1 .. 400;

# a fixed shuffle: 1, 201, 2, 202, ... backwards in blocks
my @shuffled = reverse map { ($sorted[$_], $sorted[$_ + 200]) } 0 .. 199;

$t->write_file('sorted.jsonl', join("\n", @sorted) . "\n");
$t->write_file('shuffled.jsonl', join("\n", @shuffled) . "\n");

sub dumps {
    my ($store) = @_;
    return join '', map { scalar `mdb_dump -s $_ '$store' 2>&1` }
                    qw(profiles aliases);
}

sub pz_load {
    my ($env, @args) = @_;
    local $ENV{PZ_TEST_SORT_MEM} = $env if defined $env;
    return $t->run_tool('pz-load', '-G', '0', @args);
}

my ($st, $out) = pz_load(undef, '-R', '-d', "$dir/sorted", '-s',
                         "$dir/schema.json", "$dir/sorted.jsonl");
is($st, 0, 'sorted input loaded') or diag $out;
like($out, qr/\(sorted input\)/, 'said to be sorted');
my $want = dumps("$dir/sorted");
# a key line and a value line per entry (mdb_dump's hex)
cmp_ok(($want =~ tr/\n//), '>', 2 * 1200, 'the sorted store dumps');

for my $case ([undef, 'one buffer'], [4096, 'runs of 4 KiB']) {
    my ($mem, $name) = @$case;
    my $store = "$dir/shuffled" . ($mem // 0);

    ($st, $out) = pz_load($mem, '-R', '-d', $store, '-s', "$dir/schema.json",
                          "$dir/shuffled.jsonl");
    is($st, 0, "$name: shuffled input loaded") or diag $out;
    like($out, qr/400 profiles .*\(unsorted input, sorted on the way\)/,
         "$name: said to be sorted on the way");
    ok(dumps($store) eq $want, "$name: the store of the sorted input");

    # the first load into an empty store is a build too
    ($st, $out) = pz_load($mem, '-d', "$store-fresh", '-s',
                          "$dir/schema.json", "$dir/shuffled.jsonl");
    is($st, 0, "$name: shuffled input into an empty store") or diag $out;
    ok(dumps("$store-fresh") eq $want, "$name: the same store");
}

# two files, the step back between them
$t->write_file('b.jsonl', join("\n", @sorted[0 .. 199]) . "\n");
$t->write_file('a.jsonl', join("\n", @sorted[200 .. 399]) . "\n");
($st, $out) = pz_load(4096, '-R', '-d', "$dir/two", '-s', "$dir/schema.json",
                      "$dir/a.jsonl", "$dir/b.jsonl");
is($st, 0, 'two files in the wrong order') or diag $out;
ok(dumps("$dir/two") eq $want, 'two files: the store of the sorted input');

# a duplicate id: named by the later row's file and line; nothing changes

my @dup = (@shuffled, $sorted[5] =~ s/"N6"/"again"/r);
$t->write_file('dup.jsonl', join("\n", @dup) . "\n");

for my $mem (undef, 4096) {
    my $m = $mem // 'one buffer';
    ($st, $out) = pz_load($mem, '-R', '-d', "$dir/sorted", '-s',
                          "$dir/schema.json", "$dir/dup.jsonl");
    is($st, 1, "$m: a duplicate id fails the replace");
    like($out, qr/dup\.jsonl:401: duplicate id "c0006"/,
         "$m: named by the later row");
    like($out, qr/the live store is unchanged/, "$m: the live store stays");
    ok(dumps("$dir/sorted") eq $want, "$m: and holds what it held");
}

($st, $out) = pz_load(4096, '-R', '-d', "$dir/sorted", '-s',
                      "$dir/schema.json", '-x', "$dir/dup.rej",
                      "$dir/dup.jsonl");
is($st, 0, '-x: the duplicate is rejected, the rest loads') or diag $out;
like($out, qr/1 rows? rejected/, '-x: the count');
is($t->read_file('dup.rej'), $dup[-1] . "\n",
   '-x: the reject file holds the later row as it was');
ok(dumps("$dir/sorted") eq $want, '-x: the first row of the id stays');

# two rows claiming one alias, out of order: the later one goes (-x)

my @claim = @shuffled;
push @claim, '{"id":"c0000","aliases":["login:7"],"_updated_at":1790000000}';
$t->write_file('claim.jsonl', join("\n", @claim) . "\n");

($st, $out) = pz_load(4096, '-R', '-d', "$dir/claim", '-s',
                      "$dir/schema.json", "$dir/claim.jsonl");
is($st, 1, 'an alias claimed twice fails the build');
like($out, qr/claim\.jsonl:401: alias "login:7" of "c0000" already belongs to "c0007"/,
     'named by the later row');

($st, $out) = pz_load(4096, '-R', '-d', "$dir/claim", '-s',
                      "$dir/schema.json", '-x', "$dir/claim.rej",
                      "$dir/claim.jsonl");
is($st, 0, '-x: the later claim is rejected') or diag $out;
is($t->read_file('claim.rej'), $claim[-1] . "\n",
   '-x: the reject file holds that row');
ok(dumps("$dir/claim") eq $want, '-x: the store of the sorted input');

# from a pipe, with -x, the input is copied: a row rejected for its alias
# goes to the reject file as it was (CSV under its header)

$t->write_file('claim.csv', join("\n",
    'id,aliases,first_name',
    'c2,login:2|email:2,"Two,',
    'lines"',
    'c1,login:1,One',
    'c3,"email:2|login:3","Three,',
    'more"') . "\n");

my $load = $t->tool('pz-load');
$out = `cat '$dir/claim.csv' | PZ_TEST_SORT_MEM=4096 '$load' -G 0 -R -F csv -d '$dir/pipe' -s '$dir/schema.json' -x '$dir/pipe.rej' 2>&1`;
is($? >> 8, 0, 'a pipe with -x: loaded') or diag $out;
like($out, qr/stdin:5: alias "email:2" of "c3" already belongs to "c2"/,
     'a pipe: the later claim named by stdin and its first line');
is($t->read_file('pipe.rej'),
   qq(id,aliases,first_name\nc3,"email:2|login:3","Three,\nmore"\n),
   'a pipe: the reject file holds the row as it was');
($st, $out) = $t->run_tool('pz-dump', '-d', "$dir/pipe");
is(join(',', $out =~ /"id":"(c\d)"/g), 'c1,c2', 'a pipe: c3 left the store');

$out = `cat '$dir/claim.jsonl' | '$load' -G 0 -R -d '$dir/pipe2' -s '$dir/schema.json' -x '$dir/pipe2.rej' 2>&1`;
is($? >> 8, 0, 'JSON from a pipe with -x: loaded') or diag $out;
is($t->read_file('pipe2.rej'), $claim[-1] . "\n",
   'JSON from a pipe: the reject file holds the line as it was');

# CSV: a row over two lines, out of order and a duplicate

$t->write_file('in.csv', join("\n",
    'id,first_name,orders:int',
    'c3,Three,3',
    'c1,"One,',
    'line two",1',
    'c2,Two,2',
    'c1,"Again,',
    'twice",9',
    'c0,Zero,0') . "\n");

($st, $out) = pz_load(4096, '-R', '-d', "$dir/csv", '-s', "$dir/schema.json",
                      "$dir/in.csv");
is($st, 1, 'CSV: a duplicate fails the build');
like($out, qr/in\.csv:6: duplicate id "c1"/,
     'CSV: named by the first line of the later row');

($st, $out) = pz_load(4096, '-R', '-d', "$dir/csv", '-s', "$dir/schema.json",
                      '-x', "$dir/csv.rej", "$dir/in.csv");
is($st, 0, 'CSV -x: loaded') or diag $out;
is($t->read_file('csv.rej'), "id,first_name,orders\nc1,\"Again,\ntwice\",9\n",
   'CSV -x: the reject file holds the row as CSV, under the header');
($st, $out) = $t->run_tool('pz-get', '-d', "$dir/csv", 'c1');
like($out, qr/"first_name":\s*"One,\\nline two"/, 'CSV: the first c1 stays');
($st, $out) = $t->run_tool('pz-dump', '-d', "$dir/csv");
is(join(',', $out =~ /"id":"(c\d)"/g), 'c0,c1,c2,c3', 'CSV: all four, sorted');

# a big record through small runs: the merge reads it whole

my $items = join ',', map { '"' . ('x' x 990) . sprintf('%03d', $_) . '"' }
                      1 .. 900;
my @big = (@shuffled[0 .. 9],
           qq({"id":"b0001","segments":[$items],"_updated_at":1790000000}),
           @shuffled[10 .. 19]);
$t->write_file('big.jsonl', join("\n", @big) . "\n");
$t->write_file('big-sorted.jsonl', join("\n", sort @big) . "\n");

($st, $out) = pz_load(undef, '-R', '-d', "$dir/big-sorted", '-s',
                      "$dir/schema.json", "$dir/big-sorted.jsonl");
is($st, 0, 'a record of 900 KB, sorted') or diag $out;
($st, $out) = pz_load(2_000_000, '-R', '-d', "$dir/big", '-s',
                      "$dir/schema.json", '-x', "$dir/big.rej",
                      "$dir/big.jsonl");
is($st, 0, 'a record of 900 KB (with its raw line, for -x) in small runs')
    or diag $out;
ok(dumps("$dir/big") eq dumps("$dir/big-sorted"),
   'big record: the store of the sorted input');

# more than a million rows in order, then a few out of order: the rows in
# order stay, the others go in by search

my @many = map { sprintf('{"id":"m%07d","_updated_at":1790000000}', $_ * 2) }
           1 .. 1_000_010;
push @many, map { sprintf('{"id":"m%07d","_updated_at":1790000000}', $_) }
            3, 1001, 1999999;
$t->write_file('many.jsonl', join("\n", @many) . "\n");
$t->write_file('many-sorted.jsonl', join("\n", sort @many) . "\n");

($st, $out) = pz_load(undef, '-R', '-d', "$dir/many", '-s',
                      "$dir/schema.json", "$dir/many.jsonl");
is($st, 0, 'a million in order, then three out of order') or diag $out;
like($out, qr/1000013 profiles/, 'all of them');
($st, $out) = pz_load(undef, '-R', '-d', "$dir/many-sorted", '-s',
                      "$dir/schema.json", "$dir/many-sorted.jsonl");
is($st, 0, 'the same, sorted') or diag $out;
ok(`mdb_dump -s profiles '$dir/many'` eq `mdb_dump -s profiles '$dir/many-sorted'`,
   'the same profiles');

done_testing();
