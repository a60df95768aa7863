#!/usr/bin/perl

# pz-sign: mints signed ids that the module accepts, verifies them with
# several keys, and refuses bad keys and bad ids with clear messages.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-sign not built' unless $t->has_tool('pz-sign');

my $d = $t->dir;
$t->write_file('new.key', "new-key-0123456789abcdef0123456789ab\n");
$t->write_file('old.key', "old-key-0123456789abcdef0123456789ab\n");
$t->write_file('short.key', "too-short\n");
chmod 0600, map { "$d/$_" } qw(new.key old.key short.key);

my ($st, $out) = $t->run_tool('pz-sign', '-k', "$d/new.key", '-t', '1h',
                              'c1', 'user.4.2');
is($st, 0, 'signing exits 0');
my @ids = split /\n/, $out;
is(scalar @ids, 2, 'one line per id');
like($ids[0], qr/^c1\.(\d+)\.[A-Za-z0-9_-]{43}$/, 'the signed id format');
my ($exp) = $ids[0] =~ /^c1\.(\d+)\./;
ok($exp && abs($exp - (time + 3600)) <= 5, '-t 1h: expires in an hour');

($st, $out) = $t->run_tool('pz-sign', '-v', '-k', "$d/old.key",
                           '-k', "$d/new.key", @ids);
is($st, 0, 'verifies with the key among several');
is($out, "c1\t$exp\nuser.4.2\t$exp\n", 'verify prints id and expiry');

($st, $out) = $t->run_tool('pz-sign', '-v', '-k', "$d/old.key", $ids[0]);
is($st, 1, 'another key: exit 1');
like($out, qr/^pz-sign: c1\.\d+\.\S+: signature mismatch$/m,
     'another key: the reason');

($st, $out) = $t->run_tool('pz-sign', '-k', "$d/new.key", '-e', time - 5,
                           'c2');
($st, $out) = $t->run_tool('pz-sign', '-v', '-k', "$d/new.key",
                           (split /\n/, $out)[0]);
is($st, 1, 'expired: exit 1');
like($out, qr/: expired$/m, 'expired: the reason');

($st, $out) = $t->run_tool('pz-sign', '-k', "$d/short.key", 'c1');
is($st, 1, 'a short key is refused');
like($out, qr/^pz-sign: .*short\.key: key too short \(32 to 1024 bytes\)$/m,
     'a short key: the message');

($st, $out) = $t->run_tool('pz-sign', '-k', "$d/none.key", 'c1');
is($st, 1, 'a missing key file is refused');
like($out, qr/none\.key: No such file or directory/, 'missing key: message');

($st, $out) = $t->run_tool('pz-sign', '-k', "$d/new.key", 'bad id');
is($st, 1, 'an invalid id is refused');
like($out, qr/^pz-sign: bad id: invalid id$/m, 'invalid id: the message');

($st, $out) = $t->run_tool('pz-sign', '-k', "$d/new.key", '-t', 'soon', 'c1');
is($st, 1, 'a bad lifetime is refused');

($st, $out) = $t->run_tool('pz-sign', '-h');
is($st, 0, '-h exits 0');
like($out, qr/^usage: pz-sign -k KEYFILE/, '-h prints the usage');

($st, $out) = $t->run_tool('pz-sign');
is($st, 1, 'no arguments: exit 1');

# the module accepts what the tool minted

$t->run(<<'EOF');
http {
    personalize_key %%DIR%%/new.key;
    personalize_identity cookie $cookie_pz signed;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "[$personalize_id]"; }
    }
}
EOF

is($t->get('/', Cookie => "pz=$ids[1]")->{body}, '[user.4.2]',
   'the module accepts an id minted by pz-sign');

$t->stop;

done_testing;
