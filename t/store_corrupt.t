#!/usr/bin/perl

# Broken stores and broken records: a data.mdb that is not LMDB, an LMDB
# environment that is not a profile store, a corrupt profile record and
# broken aliases.  Pages are always served, unpersonalized where needed.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');
plan skip_all => 'mdb_load (lmdb-utils) not installed'
    unless grep { -x "$_/mdb_load" } split /:/, $ENV{PATH};

sub hex_of { unpack 'H*', $_[0] }

# puts key -> value pairs into a named database with the stock mdb_load
sub mdb_put {
    my ($store, $db, %kv) = @_;
    my $dump = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";
    $dump .= ' ' . hex_of($_) . "\n " . hex_of($kv{$_}) . "\n" for sort keys %kv;
    $dump .= "DATA=END\n";
    my $f = $t->write_file("dump-$db.txt", $dump);
    system("mdb_load -s $db -f $f $store >/dev/null 2>&1") == 0
        or die "mdb_load failed";
}

# a working store with records and aliases broken behind pz-load's back
my $good = $t->load_store([
    { id => 'c1', name => 'Anna' },
    { id => 'c2', name => 'Ben' },
], schema => { name => 'string' }, dir => 'good');

mdb_put($good, 'profiles', 'bad' => 'garbage', 'badhdr' => "PZ\x01\x00\xff\xff\0\0");
mdb_put($good, 'aliases', 'dangling' => 'nobody', 'toolong' => 'x' x 300,
        'tobad' => 'bad', 'ok' => 'c2');

# not LMDB at all
$t->write_file('garbage/data.mdb', join '', map { chr(($_ * 7919) % 256) } 1 .. 65536);

# LMDB, but no meta record: not a profile store of our format
mdb_put($t->dir . '/foreign', 'profiles', 'c1' => 'x') if mkdir $t->dir . '/foreign';

$t->run(<<'EOF');
http {
    personalize_identity login $http_x_login;

    personalize_store %%DIR%%/good;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[$personalize_profile|$personalize_profile_id|$personalize_field_name]";
        }
    }
}
EOF

sub body { my $r = $t->get(@_); $r->{status} == 200 ? $r->{body} : "status $r->{status}" }

is(body('/', 'X-Login' => 'c1'), '[1|c1|Anna]', 'a good record next to bad ones');
is(body('/', 'X-Login' => 'bad'), '[0||]', 'a corrupt record: no profile');
my $n = () = $t->error_log =~ /corrupt profile "bad"/g;
is($n, 1, 'logged once for one request');
is(body('/', 'X-Login' => 'badhdr'), '[0||]',
   'a record with a broken index: no profile');
is(body('/', 'X-Login' => 'dangling'), '[0||]',
   'an alias to a missing profile: no profile');
is(body('/', 'X-Login' => 'toolong'), '[0||]',
   'an alias with an over-long target: no profile');
is(body('/', 'X-Login' => 'tobad'), '[0||]',
   'an alias to a corrupt record: no profile');
is(body('/', 'X-Login' => 'ok'), '[1|c2|Ben]', 'an alias added with mdb_load');

like($t->error_log, qr/\[error\].*corrupt profile "bad"/,
     'the corrupt record is logged at error level');

$t->stop;

for my $case (['garbage', 'a data.mdb that is not LMDB'],
              ['foreign', 'an LMDB environment without our meta record'])
{
    my ($dir, $name) = @$case;

    my $u = PzTest->new;
    $u->run(<<"EOF");
http {
    personalize_identity login \$http_x_login;
    personalize_store @{[ $t->dir ]}/$dir;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "[\$personalize_profile|\$personalize_store_generation]"; }
    }
}
EOF

    is($u->get('/', 'X-Login' => 'c1')->{body}, '[0|]',
       "$name: pages unpersonalized");
    like($u->error_log, qr/\[warn\].*personalize store ".*$dir" unusable/,
         "$name: a warning");
    $u->stop;
}

done_testing;
