#!/usr/bin/perl

# Bad input to pz-load: each kind of bad row names file, line and reason
# and commits nothing of its batch; -x sends bad rows to a reject file and
# counts them; a network filesystem is refused; every tool has -h, -V and
# a usage line for bad flags.

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
my $schema = $t->write_file('schema.json', $json->encode({
    segments => 'list', clv => 'decimal', orders => 'int',
    seen => 'time', name => 'string',
}));

my $good = $json->encode({ id => 'g1', name => 'Good', aliases => ['a1'] });

my ($st, $out) = $t->run_tool('pz-load', '-q', '-d', $store, '-s', $schema,
    $t->write_file('seed.jsonl', "$good\n"));
is($st, 0, 'a store to spoil') or diag $out;

sub dump_store {
    my $file = $t->dir . '/dump.jsonl';
    my ($st) = $t->run_tool('pz-dump', '-d', $store, '-o', $file);
    return $st == 0 ? $t->read_file('dump.jsonl') : "failed $st";
}

my $before = dump_store();
my $long = 'x' x 129;

my @cases = (
    [ 'malformed line', '{"id":"b1",', qr/malformed JSON: / ],
    [ 'not an object', '["b1"]', qr/expected a JSON object/ ],
    [ 'no id', '{"name":"x"}', qr/no "id"/ ],
    [ 'id not a string', '{"id":7}', qr/"id": expected string, got 7/ ],
    [ 'id too long', qq{{"id":"$long"}},
      qr/"id": 129 bytes, expected 1 to 128/ ],
    [ 'empty id', '{"id":""}', qr/"id": 0 bytes, expected 1 to 128/ ],
    [ 'wrong type decimal', '{"id":"b1","clv":"abc"}',
      qr/field "clv": expected decimal, got "abc"/ ],
    [ 'wrong type int', '{"id":"b1","orders":1.5}',
      qr/field "orders": expected int, got 1.5/ ],
    [ 'wrong type time', '{"id":"b1","seen":"yesterday"}',
      qr/field "seen": expected time, got "yesterday"/ ],
    [ 'wrong type list', '{"id":"b1","segments":"vip"}',
      qr/field "segments": expected list, got "vip"/ ],
    [ 'list item not a string', '{"id":"b1","segments":["a",1]}',
      qr/field "segments": item 2: expected string, got 1/ ],
    [ 'wrong type string', '{"id":"b1","name":["x"]}',
      qr/field "name": expected string, got \["x"\]/ ],
    [ 'unknown field', '{"id":"b1","shoe":"42"}',
      qr/unknown field "shoe" \(not in the schema\)/ ],
    [ 'duplicate key', '{"id":"b1","name":"a","name":"b"}',
      qr/malformed JSON: duplicate object key/ ],
    [ 'duplicate id in a batch', qq{{"id":"b1"}\n{"id":"b1"}},
      qr/duplicate id "b1" in this batch/, 3 ],
    [ 'alias too long', qq{{"id":"b1","aliases":["$long"]}},
      qr/"aliases": item 1: 129 bytes, expected 1 to 128/ ],
    [ 'alias twice', '{"id":"b1","aliases":["q","q"]}',
      qr/"aliases": "q" twice/ ],
    [ 'alias claimed twice in a batch',
      qq{{"id":"b1","aliases":["q"]}\n{"id":"b2","aliases":["q"]}},
      qr/alias "q" also given to "b1" in this batch/, 3 ],
);

for my $c (@cases) {
    my ($name, $text, $re, $line) = @$c;
    $line ||= 2;

    # a good row first: the bad one must take it down with it
    my $file = $t->write_file('bad.jsonl',
        qq{{"id":"ok1","name":"fine"}\n$text\n});
    my ($st, $out) = $t->run_tool('pz-load', '-d', $store, $file);

    isnt($st, 0, "$name: the load fails");
    like($out, qr/^pz-load: \Q$file\E:$line: $re/m,
         "$name: file, line and reason");
    is(dump_store(), $before, "$name: nothing committed");
}

# line numbers stay right across the parser threads' 1 MiB chunks

{
    my $pad = 'p' x 60;
    my $bad_line = 25_000 + int rand 5000;
    my $text = join '', map {
        $_ == $bad_line ? qq{{"id":"big$_","orders":"x"}\n}
                        : qq{{"id":"big$_","name":"$pad"}\n}
    } 1 .. 30_000;
    my $file = $t->write_file('big.jsonl', $text);

    ok(length $text > 2 * 1024 * 1024, 'a file of several chunks');
    my ($st, $out) = $t->run_tool('pz-load', '-d', $store, $file);
    like($out, qr/big\.jsonl:$bad_line: field "orders": expected int/,
         "the bad row is named by its line ($bad_line)");
    is(dump_store(), $before, 'and nothing is committed');
}

# -x: bad rows into the reject file, the rest goes in

my $file = $t->write_file('mixed.jsonl', join("\n",
    '{"id":"m1","name":"one"}', '{"id":"m2","clv":"abc"}',
    '{"id":"m3","name":"three"}', 'garbage', '') );
my $rej = $t->dir . '/rejects.jsonl';

($st, $out) = $t->run_tool('pz-load', '-d', $store, '-x', $rej, $file);
is($st, 0, '-x: the load succeeds') or diag $out;
like($out, qr/2 rows rejected into \Q$rej\E/, '-x: the count of rejects');
like($out, qr/mixed\.jsonl:2: field "clv"/, '-x: each reject is named');
is($t->read_file('rejects.jsonl'), qq{{"id":"m2","clv":"abc"}\ngarbage\n},
   '-x: the reject file holds the bad lines as they were');
($st, $out) = $t->run_tool('pz-get', '-d', $store, 'm1', 'm3');
is($st, 0, '-x: the good rows are in') or diag $out;

# a network filesystem is refused before anything is written

$before = dump_store();
{
    local $ENV{PZ_TEST_FSTYPE} = 'nfs';
    ($st, $out) = $t->run_tool('pz-load', '-d', $store,
        $t->write_file('nfs.jsonl', qq{{"id":"n1"}\n}));
}
isnt($st, 0, 'a network filesystem is refused');
like($out, qr/on a network filesystem \(nfs\); LMDB needs a local/,
     'with the reason');
is(dump_store(), $before, 'and nothing is written');

# not a store

($st, $out) = $t->run_tool('pz-dump', '-d', $t->dir . '/nothing');
isnt($st, 0, 'a missing store fails to dump');
like($out, qr/nothing: No such file or directory/, 'with the reason');

# every tool: -h, -V, bad flag

for my $tool (qw(pz-load pz-dump pz-get pz-stat pz-check)) {
    ($st, $out) = $t->run_tool($tool, '-h');
    is($st, 0, "$tool -h exits 0");
    like($out, qr/^usage: \Q$tool\E -d store/, "$tool -h prints the usage");

    ($st, $out) = $t->run_tool($tool, '-V');
    like($out, qr/^\Q$tool\E \d+\.\d+\.\d+ \(record format 1, LMDB/,
         "$tool -V prints the version");

    ($st, $out) = $t->run_tool($tool, '-Z');
    isnt($st, 0, "$tool -Z fails");
    like($out, qr/usage: \Q$tool\E/, "$tool -Z prints the usage");
}

done_testing();
