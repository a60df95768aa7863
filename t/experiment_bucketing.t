#!/usr/bin/perl

# Experiments: bucketing proportions over 10000 visitor ids, stickiness
# (across requests and across a reload that adds an experiment),
# independence of two experiments, the holdout seeing the default in the
# experiment's slot, anonymous visitors in no variant, and the variables.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([{ id => 'someone', segments => ['vip'] }]);

$t->write_file('blocks/a.html', 'A');
$t->write_file('blocks/b.html', 'B');
$t->write_file('blocks/generic.html', 'G');

my $conf = <<'EOF';
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    personalize_experiment hero-test {
        variant a 45%;
        variant b 45%;
        holdout 10%;
    }

    personalize_experiment other { variant x 50%; variant y 50%; }
    %%EXTRA%%

    personalize_rule hero-a { slot hero; when variant hero-test a;
                              priority 10; block blocks/a.html; }
    personalize_rule hero-b { slot hero; when variant hero-test b;
                              priority 10; block blocks/b.html; }
    personalize_rule generic { slot hero; block blocks/generic.html; }
    personalize_rule side { slot side; block blocks/generic.html; }

    server {
        listen 127.0.0.1:%%PORT%%;
        keepalive_requests 100000;

        location / {
            return 200 "$personalize_variant_hero_test|$personalize_variant_other|$personalize_slot_hero|$personalize_slot_side|$personalize_experiments";
        }
    }
}
EOF

(my $c1 = $conf) =~ s/%%EXTRA%%//;
$t->run($c1);

# many requests pipelined on one connection
sub ask {
    my (@ids) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port(1), Proto => 'tcp')
        or die "connect: $!";
    binmode $s;

    my $req = '';
    for my $i (0 .. $#ids) {
        $req .= "GET / HTTP/1.1\r\nHost: localhost\r\n"
              . (defined $ids[$i] ? "X-Login: $ids[$i]\r\n" : '')
              . ($i == $#ids ? "Connection: close\r\n" : '') . "\r\n";
    }

    my $w = 0;
    my $raw = '';
    $s->blocking(0);
    while (1) {
        if ($w < length $req) {
            my $n = syswrite($s, $req, 65536, $w);
            $w += $n if $n;
        }
        my $n = sysread($s, my $buf, 65536);
        if (defined $n && $n == 0) { last; }
        $raw .= $buf if $n;
        select(undef, undef, undef, 0.001) unless $n;
    }
    close $s;

    my @out;
    while ($raw =~ /\G.*?\r\nContent-Length: (\d+)\r\n.*?\r\n\r\n/gcs) {
        push @out, substr($raw, pos($raw), $1);
        pos($raw) += $1;
    }

    return map { [split /\|/, $_, -1] } @out;
}

my $N = 10000;
my @ids = map { "visitor-$_" } 1 .. $N;
my @res = ask(@ids);

is(scalar @res, $N, "$N answers");

my (%hero, %cross, %slot);
for my $i (0 .. $#res) {
    my ($h, $o, $s) = @{$res[$i]};
    $hero{$h}++;
    $cross{"$h$o"}++;
    $slot{$h}{$s}++;
}

my $pct = sub { 100 * ($_[0] // 0) / $N };

cmp_ok(abs($pct->($hero{a}) - 45), '<', 2, 'variant a near 45%');
cmp_ok(abs($pct->($hero{b}) - 45), '<', 2, 'variant b near 45%');
cmp_ok(abs($pct->($hero{holdout}) - 10), '<', 1.5, 'holdout near 10%');
is(($hero{a} // 0) + ($hero{b} // 0) + ($hero{holdout} // 0), $N,
   'everyone in hero-test (100% assigned)');

for my $h (qw(a b)) {
    my $share = ($cross{"${h}x"} // 0) / ($hero{$h} || 1);
    cmp_ok(abs($share - 0.5), '<', 0.04,
           "other=x among hero-test=$h near 50% (independent)");
}

is_deeply($slot{a}, { 'hero-a' => $hero{a} }, 'variant a sees block a');
is_deeply($slot{b}, { 'hero-b' => $hero{b} }, 'variant b sees block b');
is_deeply($slot{holdout}, { '' => $hero{holdout} },
          'holdout sees the default in the experiment slot');
is(scalar(grep { $_->[3] eq 'side' } @res), $N,
   'other slots are not held out');

my ($one) = grep { $_->[0] ne 'holdout' } @res;
like($one->[4], qr/^hero-test=(a|b);other=(x|y)$/,
     '$personalize_experiments lists the assignments');

my @again = ask(@ids[0 .. 999]);
is(scalar(grep { "@{$again[$_]}" eq "@{$res[$_]}" } 0 .. 999), 1000,
   'sticky: the same 1000 ids get the same variants again');

my ($anon) = ask(undef);
is_deeply([@$anon[0, 1, 4]], ['', '', ''], 'anonymous: no variant');
is($anon->[2], 'generic', 'anonymous: generic rule fills the slot');

# another experiment appears, percentages of hero-test unchanged

(my $c2 = $conf) =~ s/%%EXTRA%%/personalize_experiment fresh { variant z 33.33%; }/;
$t->reload($c2);

my @after = ask(@ids[0 .. 1999]);
is(scalar(grep { $after[$_][0] eq $res[$_][0] && $after[$_][1] eq $res[$_][1] }
          0 .. 1999), 2000, 'stable when another experiment is added');

my $fresh = grep { $_->[4] =~ /fresh=z/ } @after;
cmp_ok(abs(100 * $fresh / 2000 - 33.33), '<', 3.5,
       'new experiment with a decimal percentage: near 33.33%');

$t->stop;

done_testing;
