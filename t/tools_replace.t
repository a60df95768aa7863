#!/usr/bin/perl

# pz-load -R: a full replace builds STORE.gen-N beside the live store,
# checks it, and swaps a symlink over STORE with rename(); the old
# generation goes after the grace period; a plain directory is refused with
# the way out; a failed build leaves the live store and nothing else; the
# catalog survives a profile replace.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $json = JSON::PP->new->canonical;
my $dir = $t->dir;
my $store = "$dir/store";
my $schema = $t->write_file('schema.json', '{"name":"string"}');

sub lines {
    my ($name, @rows) = @_;
    return $t->write_file($name,
        join('', map { (ref $_ ? $json->encode($_) : $_) . "\n" } @rows));
}

sub replace {
    my ($file, @args) = @_;
    return $t->run_tool('pz-load', '-q', '-R', '-G', '0', '-d', $store,
                        '-s', $schema, @args, $file);
}

sub get {
    my ($id, @args) = @_;
    my ($st, $out) = $t->run_tool('pz-get', '-d', $store, @args, $id);
    return $st == 0 ? $json->decode($out) : undef;
}

sub generation {
    my ($st, $out) = $t->run_tool('pz-stat', '-d', $store);
    return $out =~ /^generation: (\d+)$/m ? $1 : -1;
}

sub gens {
    opendir my $d, $dir or die;
    return sort grep { /^store\.gen-\d+$/ } readdir $d;
}

my ($st, $out) = replace(lines('a.jsonl',
    { id => 'c1', aliases => ['x1'], name => 'A1' },
    { id => 'c2', name => 'A2' }));
is($st, 0, 'a first replace succeeds') or diag $out;
ok(-l $store, 'it makes the store a symlink');
is(readlink($store), 'store.gen-' . generation(),
   'to the generation directory, relative');
is(get('x1')->{name}, 'A1', 'the profiles are in');

($st, $out) = $t->run_tool('pz-load', '-q', '-c', '-d', $store,
    lines('cat.jsonl', { id => 'p1', name => 'Mug', price => '9.95' }));
is($st, 0, 'a catalog upsert into the generation') or diag $out;

# the catalog commit counted: generations count commits
my $gen = generation() + 1;

($st, $out) = replace(lines('b.jsonl', { id => 'c3', name => 'B3' }));
is($st, 0, 'a second replace succeeds') or diag $out;
is(readlink($store), "store.gen-$gen", 'the symlink moved on');
is_deeply([gens()], ["store.gen-$gen"],
          'with -G 0 the old generation is gone');
is(get('c1'), undef, 'profiles of the old generation are gone');
is(get('x1'), undef, 'and so are its aliases');
is(get('c3')->{name}, 'B3', 'the new profiles are in');
is(get('p1', '-c')->{name}, 'Mug', 'the catalog survives the replace');

($st, $out) = $t->run_tool('pz-stat', '-d', $store);
like($out, qr/^generation: $gen$/m, 'the meta record has the generation');

# a catalog replace: the database emptied and refilled in one commit

($st, $out) = $t->run_tool('pz-load', '-q', '-c', '-R', '-d', $store,
    lines('cat2.jsonl', { id => 'p2', name => 'Bowl', price => '4' }));
is($st, 0, 'a catalog replace succeeds') or diag $out;
ok(!get('p1', '-c') && get('p2', '-c'), 'only the new items are there');
is(get('c3')->{name}, 'B3', 'the profiles are untouched');

my $live = readlink($store);

# a failed build: live store unchanged, no generation left behind

($st, $out) = replace(lines('bad.jsonl',
    { id => 'c4', name => 'C4' }, { id => 'c4', name => 'again' }));
isnt($st, 0, 'a duplicate id fails the replace');
like($out, qr/bad\.jsonl:2: duplicate id "c4"/, 'with file and line');
like($out, qr/the live store is unchanged/, 'and says the store is as was');
is(readlink($store), $live, 'the symlink did not move');
is_deeply([gens()], [$live], 'the half-built generation is removed');
is(get('c3')->{name}, 'B3', 'the live profiles are still there');

($st, $out) = replace(lines('dupalias.jsonl',
    { id => 'c5', aliases => ['same'] }, { id => 'c6', aliases => ['same'] }));
isnt($st, 0, 'an alias claimed by two rows fails the replace');
like($out, qr/dupalias\.jsonl:2: alias "same" of "c6" already belongs to "c5"/,
     'the message names both profiles');
is(readlink($store), $live, 'the symlink did not move either');

# -x: a row claiming an alias of an earlier row is rejected like any bad
# row, in input order (a rejected row's aliases are free for later rows)

my @dupx = (
    { id => 'c5', aliases => ['same', 'a5'] },
    { id => 'c6', aliases => ['same', 'b6'] },
    { id => 'c7', aliases => ['b6'] },
    { id => 'c8', aliases => ['zz', 'a5'] },
);
my $rej = "$dir/dupx-rejects.jsonl";

($st, $out) = replace(lines('dupx.jsonl', @dupx), '-x', $rej);
is($st, 0, '-x: a replace with alias conflicts succeeds') or diag $out;
like($out, qr/dupx\.jsonl:2: alias "same" of "c6" already belongs to "c5"/,
     '-x: the first conflict is named with file and line');
like($out, qr/dupx\.jsonl:4: alias "a5" of "c8" already belongs to "c5"/,
     '-x: the second conflict is named');
like($out, qr/2 rows rejected into \Q$rej\E/, '-x: the rejects are counted');
is($t->read_file('dupx-rejects.jsonl'),
   join('', map { $json->encode($_) . "\n" } @dupx[1, 3]),
   '-x: the reject file holds the rejected lines as they were');
isnt(readlink($store), $live, '-x: the new generation is swapped in');
$live = readlink($store);
is_deeply([sort @{get('c5')->{aliases}}], ['a5', 'same'],
          '-x: the first row keeps its aliases');
ok(!get('c6') && !get('c8'), '-x: the rejected profiles are not loaded');
is(get('same')->{id}, 'c5', '-x: a contested alias names the first row');
is(get('b6')->{id}, 'c7',
   '-x: an alias of a rejected row goes to the next row claiming it');
is(get('zz'), undef, '-x: other aliases of a rejected row are gone');
($st, $out) = $t->run_tool('pz-check', '-d', $store);
is($st, 0, '-x: the new generation passes pz-check') or diag $out;

# the grace period keeps the old generation, then removes it

($st, $out) = $t->run_tool('pz-load', '-R', '-G', '1', '-d', $store,
    lines('c.jsonl', { id => 'c7', name => 'C7' }));
is($st, 0, 'a replace with a grace period') or diag $out;
like($out, qr/removing \Q$dir\/$live\E in 1 s/,
     'it says when it removes the old generation');
is_deeply([gens()], [readlink($store)], 'after the grace period it is gone');

# the new generation takes owner and mode of the live files (workers
# must write lock.mdb); leftovers of interrupted runs go once retired
# longer than the grace period

$live = readlink($store);
chmod 0666, "$dir/$live/lock.mdb";
chmod 0640, "$dir/$live/data.mdb";
mkdir "$dir/store.gen-90";
mkdir "$dir/store.gen-91";
utime(time() - 3600, time() - 3600, "$dir/store.gen-90");

($st, $out) = $t->run_tool('pz-load', '-q', '-R', '-G', '5', '-d', $store,
    lines('f.jsonl', { id => 'c10', name => 'F' }));
is($st, 0, 'a replace with leftovers around') or diag $out;

my $new = readlink($store);
is((stat "$dir/$new/lock.mdb")[2] & 07777, 0666, 'lock.mdb mode carried over');
is((stat "$dir/$new/data.mdb")[2] & 07777, 0640, 'data.mdb mode carried over');
ok(!-e "$dir/store.gen-90", 'a leftover retired an hour ago is removed');
ok(-d "$dir/store.gen-91", 'a recent one waits for its grace period');
ok(!-e "$dir/$live", 'the retired generation is gone after its grace');

# a plain directory is refused with the way out

($st, $out) = $t->run_tool('pz-load', '-q', '-d', "$dir/plain", '-s', $schema,
    lines('d.jsonl', { id => 'c8' }));
is($st, 0, 'an upsert makes a plain directory store') or diag $out;

($st, $out) = $t->run_tool('pz-load', '-R', '-d', "$dir/plain",
    lines('e.jsonl', { id => 'c9' }));
isnt($st, 0, 'a replace of a plain directory is refused');
like($out, qr/is a directory; a replace swaps a symlink/, 'it says why');
like($out, qr/mv \Q$dir\E\/plain \Q$dir\E\/plain\.gen-1 && ln -s plain\.gen-1/,
     'and how to convert the store');
ok(-f "$dir/plain/data.mdb", 'the directory store is untouched');

done_testing();
