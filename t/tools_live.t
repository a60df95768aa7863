#!/usr/bin/perl

# The loaders against a live nginx: while a client keeps requesting, an
# upsert in batches (-b), an upsert by alias, an erasure and two full
# replaces go through; not one request fails, every answer is a whole
# profile of one load (never a mix), and the last load is what nginx
# serves at the end.

use strict;
use warnings;

use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 2);

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $N = 5000;
my $dir = $t->dir;
my $schema = { name => 'string', tag => 'string' };

sub rows {
    my ($tag) = @_;
    return [ map { { id => "c$_", aliases => ["login:$_"], name => "n$_",
                     tag => $tag } } 1 .. $N ];
}

$t->load_store(rows('A'), schema => $schema, replace => 1);

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store check=1s;
    personalize_identity login $http_x_login;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[$personalize_profile|$personalize_field_name|$personalize_field_tag]";
        }
    }
}
EOF

is($t->get('/', 'X-Login' => 'login:7')->{body}, '[1|n7|A]',
   'the first load is served, by alias');

# runs the loader in a child while this process requests; the answer for
# c<i> must be one of @ok (a whole profile of the old or the new load)

sub under_load {
    my ($name, $ok, @args) = @_;

    my $pid = fork() // die "fork() failed: $!";

    if ($pid == 0) {
        my ($st, $out) = $t->run_tool('pz-load', '-q', @args);
        print STDERR $out if $st;
        POSIX::_exit($st);
    }

    my ($n, $bad, $status) = (0, 0, undef);
    my $start = time;
    my $done;

    while (time - $start < 30) {
        my $i = 1 + int rand $N;
        my $r = $t->get('/', 'X-Login' => ($n % 2 ? "c$i" : "login:$i"));
        $n++;

        my $body = $r->{body} // '';
        (my $want = $body) =~ s/n\Q$i\E\|/n%|/;

        if ($r->{status} != 200 || !grep { $_ eq $want } @$ok) {
            $bad++;
            diag("$name: request $n for $i: $r->{status} $body")
                if $bad < 5;
        }

        if (!defined $done && waitpid($pid, WNOHANG) == $pid) {
            $status = $? >> 8;
            $done = time;
        }

        # a little longer than the store check interval after the load
        last if defined $done && time - $done > 2.5;
    }

    is($status, 0, "$name: pz-load succeeded");
    ok($n > 50, "$name: the client kept requesting ($n)");
    is($bad, 0, "$name: not one of $n requests failed or saw a mixed "
                . 'profile');
}

my $store = "$dir/store";

my $b = $t->write_file('b.jsonl', join '', map {
    qq{{"id":"c$_","aliases":["login:$_"],"name":"n$_","tag":"B"}\n}
} 1 .. $N);
under_load('upsert in batches', [ '[1|n%|A]', '[1|n%|B]' ],
           '-b', '1000', '-d', $store, $b);
is($t->get('/', 'X-Login' => 'c9')->{body}, '[1|n9|B]', 'the upsert is served');

under_load('replace', [ '[1|n%|B]', '[1|n%|C]' ], '-R', '-G', '3',
           '-d', $store, $t->write_file('c.jsonl', join '', map {
    qq{{"id":"c$_","aliases":["login:$_"],"name":"n$_","tag":"C"}\n}
} 1 .. $N));
is($t->get('/', 'X-Login' => 'login:9')->{body}, '[1|n9|C]',
   'the replacement is served');

under_load('second replace', [ '[1|n%|C]', '[1|n%|D]' ], '-R', '-G', '3',
           '-d', $store, $t->write_file('d.jsonl', join '', map {
    qq{{"id":"c$_","aliases":["login:$_"],"name":"n$_","tag":"D"}\n}
} 1 .. $N));

# an erasure of a few: they answer with no profile afterwards

my @gone = map { 1 + 7 * $_ } 0 .. 9;
my ($st, $out) = $t->run_tool('pz-load', '-q', '-D', '-d', $store,
    $t->write_file('erase.txt', join '', map { "login:$_\n" } @gone));
is($st, 0, 'an erasure by alias') or diag $out;

sleep 1.5;
my @left = grep {
    $t->get('/', 'X-Login' => "c$_")->{body} ne '[0||]'
} @gone;
is_deeply(\@left, [], 'erased profiles are no longer served');
is($t->get('/', 'X-Login' => 'c2')->{body}, '[1|n2|D]',
   'the others still are');

$t->stop;

done_testing();
