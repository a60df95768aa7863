#!/usr/bin/perl

# pz-load parses JSON lines two ways: its parser threads try simdjson first
# (lmdb-tools/pz_json_fast.h) and hand everything unusual to jansson, which
# alone runs with -j 0.  Both ways give byte-identical stores for the same
# input, and the very same message for every bad line.

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
    . ' "orders": "int", "clv": "decimal", "seen_at": "time",'
    . ' "city": "string"}');

# plain lines (the fast path) mixed with ones only jansson takes
my @lines;

for my $i (1 .. 2000) {
    my $id = sprintf('c%05d', $i);
    my $kind = $i % 10;
    my $line =
        $kind == 1 ? qq({"id":"$id","first_name":"Ren\\u00e9e \\"R\\"","clv":$i.25})
      : $kind == 2 ? qq({"id":"$id","clv":12,"orders":"-$i","city":null})
      : $kind == 3 ? qq({"id":"$id","first_name":"J\xc3\xa9r\xc3\xb4me","seen_at":$i})
      : $kind == 4 ? qq(  {"id":"$id",\t"segments":["a","b"]}  )
      : $kind == 5 ? qq({"id":"$id","aliases":null,"segments":[]})
      : $kind == 6 ? qq({"id":"$id","clv":1e2,"seen_at":"2026-11-22T10:00:00Z"})
      :              qq({"id":"$id","aliases":["login:$i","email:$i"],)
                     . qq("segments":["vip","s$i"],"first_name":"Anna",)
                     . qq("orders":$i,"clv":"$i.50",)
                     . qq("seen_at":"2026-03-04T10:00:00Z"});
    # the same _updated_at for both loads
    $line =~ s/\}\s*$/,"_updated_at":1790000000}/;
    push @lines, $line;
}

$t->write_file('in.jsonl', join("\n", @lines) . "\n");

my ($st, $out) = $t->run_tool('pz-load', '-q', '-R', '-G', '0',
    '-d', "$dir/fast", '-s', "$dir/schema.json", "$dir/in.jsonl");
is($st, 0, 'loaded with parser threads') or diag $out;

($st, $out) = $t->run_tool('pz-load', '-q', '-R', '-G', '0', '-j', '0',
    '-d', "$dir/slow", '-s', "$dir/schema.json", "$dir/in.jsonl");
is($st, 0, 'loaded with jansson alone (-j 0)') or diag $out;

for my $db (qw(profiles aliases)) {
    my $fast = `mdb_dump -s $db '$dir/fast' 2>&1`;
    my $slow = `mdb_dump -s $db '$dir/slow' 2>&1`;
    ok(length $fast > 1000, "$db dumped");
    ok($fast eq $slow, "$db: the same bytes both ways");
}

# a bad line: the same message from both, after the same good lines

my @bad = (
    qq({"id":"x","orders":1.5}),
    qq({"id":"x","orders":"many"}),
    qq({"id":"x","clv":"abc"}),
    qq({"id":"x","colour":"red"}),
    qq({"id":"x","id":"y"}),
    qq({"id":"x","aliases":["x"]}),
    qq({"id":"x","aliases":["a","a"]}),
    qq({"id":"x","segments":[1]}),
    qq({"id":"x","first_name":"a\x01b"}),
    qq({"id":"x","first_name":"bad \xff utf-8"}),
    qq({"id":"x","orders":99999999999999999999}),
    qq({"id":"x","seen_at":"yesterday"}),
    qq({"id":"x"} trailing),
    qq({"id":"x",}),
    qq(["id","x"]),
    qq({"id":""}),
);

for my $i (0 .. $#bad) {
    $t->write_file('bad.jsonl', join("\n", @lines[0 .. 9], $bad[$i], '') );

    my ($fst, $fout) = $t->run_tool('pz-load', '-q', '-R', '-G', '0',
        '-d', "$dir/bad$i", '-s', "$dir/schema.json", "$dir/bad.jsonl");
    my ($sst, $sout) = $t->run_tool('pz-load', '-q', '-R', '-G', '0',
        '-j', '0', '-d', "$dir/bad$i", '-s', "$dir/schema.json",
        "$dir/bad.jsonl");

    is($fst, 1, "bad line $i refused");
    like($fout, qr/bad\.jsonl:11: /, "bad line $i named by file:line");
    is($fout, $sout, "bad line $i: the same message both ways");
}

done_testing();
