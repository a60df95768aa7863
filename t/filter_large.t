#!/usr/bin/perl

# A 100 MB page, from a static file and through proxy_pass, is
# personalized all the way with the worker's memory bounded: VmRSS of the
# worker grows by less than 32 MB while the client reads slowly at first.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(sleep);

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([ { id => 'vip', segments => ['vip'], code => 'C1' } ],
               schema => { segments => 'list', code => 'string' });
$t->write_file('blocks/vip.html', '<b>VIP</b>');

my $block = '<div><!-- personalize:hero -->default<!-- /personalize:hero -->'
          . '<input name="coupon">' . ('<p>filler text</p>' x 500) . "</div>\n";
my $out_block = '<div><b>VIP</b><input value="C1" name="coupon">'
              . ('<p>filler text</p>' x 500) . "</div>\n";
my $n = int(100 * 1024 * 1024 / length $block);

{
    my $path = $t->dir . '/html/big.html';
    $t->write_file('html/big.html', '');
    open my $fh, '>', $path or die "open($path) failed: $!";
    print $fh $block x 1000 for 1 .. int($n / 1000);
    print $fh $block x ($n % 1000);
    close $fh;
}

my $b = PzBackend->new(port => $t->port(2), handler => sub {
    my $chunk = $block x 100;
    my $k = int($n / 100);
    my @pieces = ($chunk) x $k;
    push @pieces, $block x ($n - 100 * $k);
    return (200, ['Content-Type' => 'text/html'], \@pieces);
});

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_rule vip { slot hero; when segment vip; block blocks/vip.html; }
    personalize_rule code { when segment vip; prefill coupon "{{code}}"; }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;

        location /proxy/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
        }
    }
}
EOF

my ($worker) = $t->workers;

for my $path ('/big.html', '/proxy/big.html') {
    my $base = rss($worker);
    my ($len, $vip, $leak, $max) = fetch($path);

    is($len, $n * length $out_block, "$path: whole page");
    is($vip, $n, "$path: every slot and input personalized");
    is($leak, 0, "$path: no marker reached the client");
    cmp_ok($max - $base, '<', 32 * 1024, "$path: worker RSS bounded")
        or diag("VmRSS from $base kB to $max kB");
    diag("$path: worker VmRSS $base kB before, at most $max kB during");
}

$t->stop;
$b->stop;

done_testing;

sub rss {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+)/;
    }
    return 0;
}

# reads the response, slowly for the first megabytes; counts bytes,
# personalized blocks and leaked markers on the fly
sub fetch {
    my ($path) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port(1))
        or die "connect() failed: $!";
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\nX-Login: vip\r\n\r\n";

    my ($buf, $head, $len, $vip, $leak, $max, $got) = ('', 1, 0, 0, 0, 0, 0);

    while (1) {
        my $r = sysread($s, my $data, 65536);
        last unless $r;
        $got += $r;

        if ($got < 4 * 1024 * 1024) {
            sleep 0.002;
        }

        $buf .= $data;

        if ($head) {
            my $i = index($buf, "\r\n\r\n");
            next if $i < 0;
            substr($buf, 0, $i + 4, '');
            $head = 0;
        }

        # count in whole lines, keep the rest
        my $cut = rindex($buf, "\n");
        next if $cut < 0;
        my $lines = substr($buf, 0, $cut + 1, '');
        $len += length $lines;
        $vip += () = $lines =~ /<b>VIP<\/b><input value="C1" name="coupon">/g;
        $leak += () = $lines =~ /personalize:/g;

        my $m = rss($worker);
        $max = $m if $m > $max;
    }

    $len += length $buf;

    return ($len, $vip, $leak, $max);
}
