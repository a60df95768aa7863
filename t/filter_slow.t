#!/usr/bin/perl

# A slow client: the filter's own buffers run out while the client does
# not read, the filter waits for them instead of copying more, and the
# whole page arrives once the client reads; nothing is cut off.

use strict;
use warnings;

use Test::More;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_RCVBUF);
use Time::HiRes qw(sleep);

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

# every piece of 7 bytes ends inside a marker or a tag: the scanner keeps
# the start of a candidate and passes it on as a copy
my $unit = '<p>x</p><!-- personalize:s -->text<!-- /personalize:s -->'
         . "<!-- other comment --><b>bold!</b>\n";
(my $want_unit = $unit) =~ s/<!-- \/?personalize:s -->//g;
my $n = 6000;

$t->write_file('html/p.html', $unit x $n);

$t->run(<<'EOF');
http {
    server {
        listen 127.0.0.1:%%PORT%% sndbuf=4k;
        root %%DIR%%/html;
        personalize on;
        output_buffers 1 7;
        send_timeout 5s;
    }
}
EOF

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $t->port)
    or die "connect() failed: $!";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, 4096);
print $s "GET /p.html HTTP/1.0\r\nHost: localhost\r\n\r\n";

# the client does not read for a while
sleep 2;

my $raw = '';
while (1) {
    my $r = sysread($s, my $data, 4096);
    last unless $r;
    $raw .= $data;
}

my ($head, $body) = split /\r\n\r\n/, $raw, 2;
like($head, qr{^HTTP/1\.1 200}, 'status');
is(length($body // ''), $n * length $want_unit, 'the whole page arrived');
is($body, $want_unit x $n, 'markers removed all the way');
unlike($t->error_log, qr/timed out/, 'no send timeout');

$t->stop;

done_testing;
