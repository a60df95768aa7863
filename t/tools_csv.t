#!/usr/bin/perl

# pz-load reads CSV through libcsv: a header row names the columns (types
# from the schema or annotated as "name:type"), RFC 4180 quoting with
# embedded commas, quotes and newlines, lists separated by "|", an empty
# cell leaves the field out; errors name the line where the row starts.

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
my $schema = $t->write_file('schema.json', '{"segments":"list"}');

sub get {
    my ($id) = @_;
    my ($st, $out) = $t->run_tool('pz-get', '-d', $store, $id);
    return $st == 0 ? $json->decode($out) : undef;
}

my $csv = $t->write_file('profiles.csv', <<'EOF');
id,aliases,segments,name:string,clv:decimal,orders:int,seen:time
c1,login:1|email:x,vip|cart_abandoned,"Smith, ""Jo""",19.95,3,1795341600
c2,,,"two
lines",,,1795341600
EOF

my ($st, $out) = $t->run_tool('pz-load', '-q', '-d', $store, '-s', $schema,
                              $csv);
is($st, 0, 'a CSV file loads') or diag $out;

my $c1 = get('c1');
is($c1->{name}, 'Smith, "Jo"', 'quoted cell with a comma and quotes');
is_deeply($c1->{segments}, ['vip', 'cart_abandoned'], 'a list cell');
is_deeply($c1->{aliases}, ['login:1', 'email:x'], 'the aliases cell');
is($c1->{clv}, '19.95', 'an annotated decimal column');
is($c1->{orders}, 3, 'an annotated int column');
is(get('email:x')->{id}, 'c1', 'an alias from CSV works');

my $c2 = get('c2');
is($c2->{name}, "two\nlines", 'an embedded newline');
ok(!exists $c2->{clv} && !exists $c2->{segments},
   'empty cells leave fields out');
is($c2->{seen}, '2026-11-22T10:00:00Z', 'a time from epoch seconds');

($st, $out) = $t->run_tool('pz-dump', '-d', $store, '-S');
is_deeply($json->decode($out), { segments => 'list', name => 'string',
    clv => 'decimal', orders => 'int', seen => 'time' },
    'header annotations join the stored schema');

# errors: the line where the row starts

my $bad = $t->write_file('bad.csv',
    qq{id,name,clv\nc3,"multi\nline",1\nc4,x,abc\n});
($st, $out) = $t->run_tool('pz-load', '-d', $store, $bad);
isnt($st, 0, 'a bad cell fails the load');
like($out, qr/bad\.csv:4: field "clv": expected decimal, got "abc"/,
     'the row is named by its first line');
is(get('c3'), undef, 'nothing of the batch is committed');

$bad = $t->write_file('cells.csv', "id,name\nc5,a,b\n");
($st, $out) = $t->run_tool('pz-load', '-d', $store, $bad);
like($out, qr/cells\.csv:2: 3 cells, the header has 2/, 'a row too wide');

$bad = $t->write_file('unknown.csv', "id,shoe\nc6,42\n");
($st, $out) = $t->run_tool('pz-load', '-d', $store, $bad);
like($out, qr/unknown\.csv:1: unknown field "shoe"/,
     'an unknown column fails at the header');

$bad = $t->write_file('noid.csv', "name\nx\n");
($st, $out) = $t->run_tool('pz-load', '-d', $store, $bad);
like($out, qr/noid\.csv:1: no "id" column/, 'a header without id');

$bad = $t->write_file('quote.csv', qq{id,name\nc7,"open\n});
($st, $out) = $t->run_tool('pz-load', '-d', $store, $bad);
isnt($st, 0, 'an unterminated quote fails');
like($out, qr/quote\.csv:2: malformed CSV/, 'as malformed CSV');

# -x writes rejected rows as CSV under the header

my $mixed = $t->write_file('mixed.csv', qq{id,clv\nm1,1\nm2,"a,b"\nm3,3\n});
my $rej = $t->dir . '/rej.csv';
($st, $out) = $t->run_tool('pz-load', '-d', $store, '-x', $rej, $mixed);
is($st, 0, '-x with CSV succeeds') or diag $out;
is($t->read_file('rej.csv'), qq{id,clv\nm2,"a,b"\n},
   'the reject file is CSV with the header');
ok(get('m1') && get('m3'), 'the good rows are in');

# -F csv for a file of another name

my $plain = $t->write_file('export.txt', "id,name\nf1,Fay\n");
($st, $out) = $t->run_tool('pz-load', '-q', '-F', 'csv', '-d', $store,
                           $plain);
is($st, 0, '-F csv reads a file of another name') or diag $out;
is(get('f1')->{name}, 'Fay', 'and loads it');

done_testing();
