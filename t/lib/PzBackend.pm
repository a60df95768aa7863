package PzBackend;

# A tiny forking HTTP/1.1 backend for proxy_pass tests: it writes the body
# in separate pieces so that nginx receives it in several buffers.

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Time::HiRes qw(sleep);

my %LIVE;


sub new {
    my ($class, %o) = @_;

    die "PzBackend: port required" unless $o{port};
    die "PzBackend: handler required" unless ref $o{handler} eq 'CODE';

    # listen before fork: the port accepts as soon as new() returns
    my $ls = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $o{port}, Proto => 'tcp',
        ReuseAddr => 1, Listen => 128,
    ) or die "PzBackend: bind(127.0.0.1:$o{port}) failed: $!";

    my $pid = fork() // die "PzBackend: fork() failed: $!";

    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };

        while (1) {
            my $c = $ls->accept or next;

            my $cpid = fork();
            if (!defined $cpid) {
                close $c;
                next;
            }

            if ($cpid == 0) {
                close $ls;
                eval { _serve($c, $o{handler}) };
                POSIX::_exit(0);
            }

            close $c;
        }
    }

    close $ls;

    my $self = bless { pid => $pid, port => $o{port} }, $class;
    $LIVE{"$self"} = $self;
    weaken($LIVE{"$self"});

    return $self;
}

sub port { $_[0]->{port} }

sub _read_request {
    my ($c) = @_;

    my $buf = '';

    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($c, $buf, 65536, length $buf);
        return undef unless $n;
    }

    my $i = index($buf, "\r\n\r\n");
    my ($head, $body) = (substr($buf, 0, $i), substr($buf, $i + 4));
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $uri) = split / /, $line;

    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? "$h{$k}, $v" : $v;
    }

    my $len = $h{'content-length'} || 0;
    while (length $body < $len) {
        my $n = sysread($c, $body, $len - length $body, length $body);
        last unless $n;
    }

    return { method => $method, uri => $uri, headers => \%h,
             body => $body, raw => $buf };
}

sub _serve {
    my ($c, $handler) = @_;

    binmode $c;

    my $req = _read_request($c) or return;
    my ($status, $headers, $chunks, $delay) = $handler->($req);

    $status ||= 200;
    $headers ||= [];
    $chunks ||= [];

    my %has = map { lc($_) => 1 } @$headers[grep { !($_ % 2) } 0 .. $#$headers];
    my $chunked = ($has{'transfer-encoding'} && grep { /chunked/i } @$headers)
                  ? 1 : 0;

    my $out = "HTTP/1.1 $status X\r\n";
    for (my $i = 0; $i < @$headers; $i += 2) {
        $out .= "$headers->[$i]: $headers->[$i + 1]\r\n";
    }
    $out .= "Connection: close\r\n" unless $has{connection};
    $out .= "\r\n";

    _write($c, $out) or return;

    for my $i (0 .. $#$chunks) {
        my $data = $chunks->[$i];
        next if $chunked && $data eq '';
        $data = sprintf("%x\r\n%s\r\n", length $data, $data) if $chunked;
        _write($c, $data) or return;
        sleep $delay if $delay && $i < $#$chunks;
    }

    _write($c, "0\r\n\r\n") if $chunked;

    shutdown($c, 1);
    # let the peer read everything before the close
    1 while sysread($c, my $b, 4096);
    close $c;
}

sub _write {
    my ($c, $data) = @_;

    while (length $data) {
        my $n = syswrite($c, $data);
        return 0 unless defined $n;
        substr($data, 0, $n, '');
    }

    return 1;
}

sub stop {
    my ($self) = @_;

    my $pid = delete $self->{pid} or return;

    kill 'TERM', $pid;
    for (1 .. 100) {
        return if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub DESTROY {
    local ($?, $@, $!);
    $_[0]->stop;
}

END {
    local $?;
    $_->stop for grep { defined } values %LIVE;
}

1;

__END__

=head1 NAME

PzBackend - a streaming HTTP/1.1 backend for proxy_pass tests

=head1 SYNOPSIS

    use lib 't/lib';
    use PzBackend;

    my $b = PzBackend->new(port => $t->port(2), handler => sub {
        my ($req) = @_;     # { method, uri, headers => {lc => v}, body, raw }
        return (200, ['Content-Type' => 'text/html'],
                ['<html><bo', 'dy>hi</body>', '</html>'], 0.05);
    });
    ...
    $b->stop;               # also done when $b goes away or at exit

=head1 DESCRIPTION

Listens on 127.0.0.1:PORT before C<new> returns and forks one process per
connection.  The handler returns C<(status, [header => value, ...],
[body pieces], delay)>: every piece goes out with its own C<syswrite>, with
C<delay> seconds of sleep between pieces, so nginx reads the body in several
buffers.  Without a Content-Length the body ends with the connection; with
C<Transfer-Encoding: chunked> among the headers each piece becomes one
chunk.  C<Connection: close> is added unless given.

=cut
