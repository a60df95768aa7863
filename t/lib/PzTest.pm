package PzTest;

# The ngx_personalize test harness: writes an nginx.conf, starts the real
# nginx with the built module on a free loopback port, talks HTTP to it and
# fails when error.log holds an alert.  Core Perl and Test::More only.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::IP;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Test::More;
use Time::HiRes qw(sleep time);

our $VERSION = '0.1';

my $TOP = abs_path(dirname(__FILE__) . '/../..');
my %LIVE;

# an interrupted test still stops its nginx: END blocks run on exit()
for my $sig (qw(INT TERM HUP)) {
    next unless ($SIG{$sig} || 'DEFAULT') eq 'DEFAULT';
    $SIG{$sig} = sub { exit 130 };
}

# prctl(PR_SET_PDEATHSIG) numbers: a test killed outright takes its nginx
# with it
my %SYS_PRCTL = (x86_64 => 157, aarch64 => 167, i686 => 172);


sub new {
    my ($class, %opts) = @_;

    my $self = bless {
        build   => abs_path($ENV{PZ_BUILD} || "$TOP/build"),
        nginx   => $ENV{PZ_NGINX} || '/usr/sbin/nginx',
        workers => $opts{workers} || 1,
        ports   => [],
        pid     => undef,
        stopped => 1,
        checked => 0,
    }, $class;

    $self->{dir} = tempdir('pztest-XXXXXXXX', TMPDIR => 1, CLEANUP => 0);
    chmod 0755, $self->{dir};

    $LIVE{"$self"} = $self;
    weaken($LIVE{"$self"});

    return $self;
}

sub dir { $_[0]->{dir} }
sub build { $_[0]->{build} }
sub top { $TOP }

sub port {
    my ($self, $n) = @_;
    $n ||= 1;

    while (@{$self->{ports}} < $n) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
            ReuseAddr => 1, Listen => 1,
        ) or die "bind(127.0.0.1:0) failed: $!";
        my $p = $s->sockport;
        close $s;
        push @{$self->{ports}}, $p
            unless grep { $_ == $p } @{$self->{ports}};
    }

    return $self->{ports}[$n - 1];
}

sub write_file {
    my ($self, $name, $content) = @_;

    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    make_path(dirname($path));
    open my $fh, '>', $path or die "open($path) failed: $!";
    binmode $fh;
    print $fh $content;
    close $fh or die "close($path) failed: $!";

    return $path;
}

sub read_file {
    my ($self, $name) = @_;

    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    my $c = <$fh>;
    close $fh;

    return defined $c ? $c : '';
}

sub tool {
    my ($self, $name) = @_;
    return "$self->{build}/bin/$name";
}

sub has_tool {
    my ($self, $name) = @_;
    return -x $self->tool($name);
}

# runs a tool of $PZ_BUILD/bin; returns ($exit_status, $stdout_and_stderr)
sub run_tool {
    my ($self, $name, @args) = @_;

    my $out = "$self->{dir}/tool.out";
    my $pid = fork() // die "fork() failed: $!";

    if ($pid == 0) {
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        exec $self->tool($name), @args;
        die "exec($name) failed: $!";
    }

    waitpid($pid, 0);
    my $status = $? >> 8;

    return ($status, $self->read_file($out));
}

my $JSON = JSON::PP->new->canonical->utf8;

sub _lines {
    my ($lines) = @_;
    return join '', map { (ref $_ ? $JSON->encode($_) : $_) . "\n" } @$lines;
}

# builds a store with pz-load; lines are JSON text or hash refs
sub load_store {
    my ($self, $lines, %o) = @_;

    my $store = $o{dir} || 'store';
    $store = "$self->{dir}/$store" unless $store =~ m{^/};
    my $n = ++$self->{loads};

    my @args = ('-d', $store);

    my $schema = $self->write_file("load$n/schema.json",
        $JSON->encode($o{schema} || { segments => 'list' }));
    push @args, '-s', $schema;
    push @args, '-R' if $o{replace};
    push @args, @{$o{args}} if $o{args};

    my @files;
    push @files, $self->write_file("load$n/profiles.jsonl", _lines($lines))
        if $lines && @$lines;

    my ($st, $out) = $self->run_tool('pz-load', @args, @files);
    die "pz-load @args @files failed ($st): $out" if $st != 0;

    if ($o{catalog}) {
        my $file = $self->write_file("load$n/catalog.jsonl",
            _lines($o{catalog}));
        my @cargs = ('-d', $store, '-c');
        push @cargs, '-s', $self->write_file("load$n/catalog_schema.json",
            $JSON->encode($o{catalog_schema})) if $o{catalog_schema};
        ($st, $out) = $self->run_tool('pz-load', @cargs, $file);
        die "pz-load @cargs failed ($st): $out" if $st != 0;
    }

    return $store;
}

sub _subst {
    my ($self, $text) = @_;

    my $p1 = $text =~ /%%PORT%%/ ? $self->port(1) : 0;
    my $p2 = $text =~ /%%PORT2%%/ ? $self->port(2) : 0;
    $text =~ s/%%PORT%%/$p1/g;
    $text =~ s/%%PORT2%%/$p2/g;
    $text =~ s/%%DIR%%/$self->{dir}/g;
    $text =~ s/%%BUILD%%/$self->{build}/g;
    $text =~ s/%%TOP%%/$TOP/g;

    return $text;
}

sub _conf {
    my ($self, $text, $log) = @_;

    my $d = $self->{dir};
    my $level = $ENV{PZ_DEBUG} ? 'debug' : 'info';
    $text = $self->_subst($text);

    # on the line of "http {" so that line numbers stay easy to predict
    my $inject = "client_body_temp_path $d/tmp/body; "
        . "proxy_temp_path $d/tmp/proxy; fastcgi_temp_path $d/tmp/fastcgi; "
        . "uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;";
    $inject .= " access_log $d/access.log;" unless $text =~ /\baccess_log\b/;
    $text =~ s/^(\s*http\s*\{)/$1 $inject/m;

    my $head = "load_module $self->{build}/ngx_http_personalize_module.so;\n";
    $head .= "user root;\n" if $> == 0;
    $head .= "worker_processes $self->{workers};\n"
        unless $text =~ /^\s*worker_processes\b/m;
    $head .= "daemon off;\nmaster_process on;\n"
        . "error_log $d/$log $level;\npid $d/nginx.pid;\n";
    $head .= "events { worker_connections 1024; }\n"
        unless $text =~ /^\s*events\b/m;

    make_path("$d/tmp");

    return $head . $text;
}

# the line number in the last written nginx.conf of the first line matching
sub line_of {
    my ($self, $re, $file) = @_;

    my @l = split /\n/, $self->read_file($file || $self->{conf_file}
                                         || 'nginx.conf');
    for my $i (0 .. $#l) {
        return $i + 1 if $l[$i] =~ $re;
    }

    return undef;
}

sub nginx_t {
    my ($self, $text) = @_;

    my $d = $self->{dir};
    my $conf = $self->write_file('nginx-t.conf',
                                 $self->_conf($text, 'error-t.log'));
    $self->{conf_file} = $conf;

    local $ENV{LD_PRELOAD} = $ENV{PZ_PRELOAD} if $ENV{PZ_PRELOAD};
    my $out = `$self->{nginx} -t -p $d/ -e $d/error-t.log -c $conf 2>&1`;
    my $ok = $? == 0 ? 1 : 0;

    return ($ok, $out);
}

sub run {
    my ($self, $text) = @_;

    my $d = $self->{dir};
    die "nginx already running" if $self->{pid};

    my $conf = $self->write_file('nginx.conf', $self->_conf($text,
                                                            'error.log'));
    $self->{conf_file} = $conf;
    unlink "$d/nginx.pid";

    my $pid = fork() // die "fork() failed: $!";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$d/stderr.log";
        open STDERR, '>>', "$d/stderr.log";
        $ENV{LD_PRELOAD} = $ENV{PZ_PRELOAD} if $ENV{PZ_PRELOAD};
        _die_with_parent();
        exec $self->{nginx}, '-p', "$d/", '-e', "$d/error.log",
            '-c', $conf;
        die "exec($self->{nginx}) failed: $!";
    }

    $self->{pid} = $pid;
    $self->{stopped} = 0;

    my @ports = $text =~ /%%PORT2%%/ ? ($self->port(1), $self->port(2))
              : $text =~ /%%PORT%%/ ? ($self->port(1)) : ();

    for (1 .. 200) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = undef;
            $self->{stopped} = 1;
            die "nginx failed to start ($?):\n"
                . $self->read_file('stderr.log')
                . $self->read_file('error.log');
        }

        if (-s "$d/nginx.pid" && !grep { !_connectable($_) } @ports) {
            return $self;
        }

        sleep 0.05;
    }

    $self->stop;
    die "nginx did not start in 10s:\n" . $self->read_file('error.log');
}

# the nginx master gets SIGTERM (fast shutdown) when the test process dies
sub _die_with_parent {
    return unless $^O eq 'linux';

    require Config;
    my ($arch) = $Config::Config{archname} =~ /^([^-]+)/;
    my $nr = $SYS_PRCTL{$arch || ''} or return;

    eval { syscall($nr, 1, 15, 0, 0, 0) };
}

# on 127.0.0.1 or, for "listen [::1]:PORT", on ::1
sub _connectable {
    my ($port) = @_;

    for my $host ('127.0.0.1', '::1') {
        my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port,
                                    Proto => 'tcp', Timeout => 1) or next;
        close $s;
        return 1;
    }

    return 0;
}

sub pid { $_[0]->{pid} }

sub workers {
    my ($self) = @_;

    return () unless $self->{pid};

    my @w;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $st = <$fh>;
        close $fh;
        next unless $st && $st =~ /\)\s+\S+\s+(\d+)/;
        push @w, $p if $1 == $self->{pid};
    }
    closedir $dh;

    return sort { $a <=> $b } @w;
}

# sends HUP (after writing a new configuration when one is given) and waits
# until the old workers are gone and new ones run
sub reload {
    my ($self, $text) = @_;

    die "nginx not running" unless $self->{pid};

    if (defined $text) {
        $self->write_file('nginx.conf', $self->_conf($text, 'error.log'));
    }

    my %old = map { $_ => 1 } $self->workers;
    kill 'HUP', $self->{pid};

    for (1 .. 200) {
        sleep 0.05;
        my @w = $self->workers;
        next if grep { $old{$_} } @w;
        return $self if @w;
    }

    diag('reload: old workers still running after 10s');
    return $self;
}

sub stop {
    my ($self) = @_;

    $self->_shutdown;

    return if $self->{checked}++;

    my @bad = $self->problems;
    ok(!@bad, 'no alerts in error.log') or diag(join '', @bad);
}

sub _shutdown {
    my ($self) = @_;

    my $pid = $self->{pid} or return;

    kill 'QUIT', $pid;

    for (1 .. 100) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{pid} = undef;
            $self->{stopped} = 1;
            return;
        }
        sleep 0.05;
        kill 'TERM', $pid if $_ == 60;
    }

    kill 'KILL', $pid;
    waitpid($pid, 0);
    $self->{pid} = undef;
    $self->{stopped} = 1;
}

# error.log lines at alert, crit or emerg, and sanitizer reports
sub problems {
    my ($self) = @_;

    my @bad = grep { /\[(alert|crit|emerg)\]/ }
              split /^/m, $self->read_file('error.log');

    for my $f ('error.log', 'stderr.log') {
        push @bad, "$f: AddressSanitizer report\n"
            if $self->read_file($f) =~ /AddressSanitizer|runtime error:/;
    }

    return @bad;
}

sub error_log {
    my ($self) = @_;
    return $self->read_file('error.log');
}

sub access_log {
    my ($self) = @_;
    return $self->read_file('access.log');
}

sub get {
    my ($self, $path, @h) = @_;

    my ($port, $method, $timeout, $local, $peer)
        = ($self->port(1), 'GET', 10);
    my $req = '';

    while (@h) {
        my ($k, $v) = splice @h, 0, 2;

        if ($k eq '-port') { $port = $v; next; }
        if ($k eq '-method') { $method = $v; next; }
        if ($k eq '-timeout') { $timeout = $v; next; }
        if ($k eq '-local') { $local = $v; next; }
        if ($k eq '-peer') { $peer = $v; next; }

        $req .= "$k: $_\r\n" for ref $v ? @$v : ($v);
    }

    $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
         . "Connection: close\r\n$req\r\n";

    return $self->request($req, -port => $port, -timeout => $timeout,
                          ($local ? (-local => $local) : ()),
                          ($peer ? (-peer => $peer) : ()));
}

sub request {
    my ($self, $req, %o) = @_;

    my $port = $o{-port} || $self->port(1);
    my $timeout = $o{-timeout} || 10;

    my $s = IO::Socket::IP->new(PeerHost => $o{-peer} || '127.0.0.1',
                                PeerPort => $port, Proto => 'tcp',
                                Timeout => $timeout,
                                ($o{-local} ? (LocalHost => $o{-local})
                                            : ()))
        or return { status => 0, error => "connect() failed: $!",
                    headers => {}, header_list => [], body => '',
                    raw => '' };

    $s->autoflush(1);
    binmode $s;
    print $s $req;

    my $raw = '';
    my $sel = IO::Select->new($s);
    my $deadline = time + $timeout;

    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $raw .= $buf;
    }

    close $s;

    return parse_response($raw);
}

sub parse_response {
    my ($raw) = @_;

    my $r = { status => 0, headers => {}, header_list => [], body => '',
              raw => $raw };

    my $i = index($raw, "\r\n\r\n");
    return $r if $i < 0;

    my ($head, $body) = (substr($raw, 0, $i), substr($raw, $i + 4));
    my ($line, @lines) = split /\r\n/, $head;

    ($r->{status}) = $line =~ m{^HTTP/\d\.\d\s+(\d+)};
    $r->{status} ||= 0;

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{$r->{header_list}}, [$k, $v];
        my $lk = lc $k;
        $r->{headers}{$lk} = exists $r->{headers}{$lk}
                           ? "$r->{headers}{$lk}, $v" : $v;
    }

    if (($r->{headers}{'transfer-encoding'} || '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }

    $r->{body} = $body;

    return $r;
}

sub DESTROY {
    my ($self) = @_;

    local ($?, $@, $!);

    $self->_shutdown;
    $self->_cleanup;
}

sub _cleanup {
    my ($self) = @_;

    return if $self->{cleaned}++;

    if ($ENV{PZ_KEEP} || !Test::More->builder->is_passing) {
        Test::More->builder->diag("kept $self->{dir}") if -d $self->{dir};
        return;
    }

    remove_tree($self->{dir});
}

END {
    for my $t (grep { defined } values %LIVE) {
        $t->_shutdown;

        unless ($t->{checked}++) {
            my @bad = $t->problems;
            if (@bad) {
                my $tb = Test::More->builder;
                if (!$tb->{Done_Testing} && !$tb->has_plan) {
                    ok(0, 'no alerts in error.log');
                } else {
                    $? ||= 1;
                }
                $tb->diag(join '', @bad);
            }
        }

        $t->_cleanup;
    }
}

1;

__END__

=head1 NAME

PzTest - the ngx_personalize test harness

=head1 SYNOPSIS

    use Test::More;
    use lib 't/lib';
    use PzTest;

    my $t = PzTest->new;
    my $store = $t->load_store([
        { id => 'c1', aliases => ['login:42'], segments => ['vip'],
          first_name => 'Anna' },
    ], schema => { segments => 'list', first_name => 'string' });

    $t->run(<<'EOF');
    http {
        personalize_store %%DIR%%/store;
        server {
            listen 127.0.0.1:%%PORT%%;
            location / { return 200 "$personalize_field_first_name"; }
        }
    }
    EOF

    my $r = $t->get('/', 'X-Login' => 'c1');
    is($r->{status}, 200, 'status');
    is($r->{body}, 'Anna', 'first name');

    $t->stop;               # stops nginx, checks error.log
    done_testing;

=head1 ENVIRONMENT

=over

=item PZ_BUILD

The build directory holding F<ngx_http_personalize_module.so> and F<bin/>
(default: F<build/> at the top of the repository).

=item PZ_NGINX

The nginx binary (default F</usr/sbin/nginx>).

=item PZ_PRELOAD

Preloaded into nginx (C<LD_PRELOAD>), for AddressSanitizer runs.

=item PZ_KEEP

Keep the temporary directory even when every test passed (it is always
kept on failure and its path printed).

=item PZ_DEBUG

C<error_log ... debug> instead of C<info>.

=back

=head1 METHODS

=over

=item new(workers => N)

A fresh temporary directory.  C<workers> sets C<worker_processes> (1)
unless the configuration text sets it itself.

=item port / port(2)

The first / second free loopback port (found by binding to port 0).

=item dir, build, top

The temporary directory, C<$PZ_BUILD>, the repository top.

=item write_file($relpath, $content), read_file($relpath)

Relative to C<dir> unless absolute; directories are created.

=item load_store(\@lines, schema => {...}, catalog => \@lines, catalog_schema => {...}, dir => 'store', replace => 1, args => [...])

Runs C<$PZ_BUILD/bin/pz-load -d STORE -s schema.json [-R] file>
(C<replace> gives C<-R>, a full replace); lines are JSON text or hash refs.
The catalog is loaded with C<pz-load -d STORE -c [-s catalog_schema] file>.
Returns the store path; dies with the tool's output on failure.

=item run_tool($name, @args)

Runs C<$PZ_BUILD/bin/$name>; returns C<($exit_status, $output)>.
C<has_tool($name)> says whether it was built.

=item run($text)

Writes F<nginx.conf>: C<load_module>, C<user root> when root,
C<worker_processes>, C<daemon off>, C<error_log DIR/error.log info>, C<pid>,
C<events {}> (unless the text has its own), then C<$text>, which holds the
C<http { ... }> block.  Substitutes C<%%PORT%%>, C<%%PORT2%%>, C<%%DIR%%>,
C<%%BUILD%%>, C<%%TOP%%>.  Temp paths and (unless the text has one)
C<access_log DIR/access.log> are added on the line of C<http {>, so lines
keep their numbers.  Starts nginx as a child, waits for the ports and dies
with the error output when it fails.

=item nginx_t($text) -> ($ok, $output)

C<nginx -t> on such a configuration (written to F<nginx-t.conf>, logging to
F<error-t.log>, which is not checked for alerts), without starting nginx.

=item line_of(qr/.../)

The line number of the first line matching in the configuration written
last: use it to check C<nginx.conf:LINE> in error messages.

=item get($path, Header => 'value', Cookie => ['a=1', 'b=2'], -port => $p, -method => 'HEAD', -timeout => 10, -local => '127.0.0.2', -peer => '::1')

An HTTP/1.1 request with C<Connection: close>; an array value sends the
header once per element.  C<-local> binds the client socket to another
loopback address (any 127.x.y.z works on Linux); C<-peer> connects to
another address than 127.0.0.1 (C<::1> for IPv6).

=item request($raw, -port => $p, -timeout => 10, -local => $addr, -peer => $addr)

Sends raw request text.  Both return
C<{ status, headers => { lc name => value (repeats joined with ", ") },
header_list => [[name, value], ...], body (de-chunked), raw }>;
status 0 when the connection failed.

=item reload($text?)

Writes a new configuration when given, sends HUP, and waits until the old
workers are gone and new ones run.

=item pid, workers

The master pid and the worker pids.

=item stop

Stops nginx and adds the test "no alerts in error.log", failing on any
C<[alert]>, C<[crit]> or C<[emerg]> line and on any AddressSanitizer or
UBSan report in F<error.log> or F<stderr.log>.  Call it before
C<done_testing>; if a test forgets, the check runs at exit anyway.  A test
interrupted by INT, TERM or HUP still runs its END blocks, and the nginx
of a test killed outright gets SIGTERM from the kernel (PR_SET_PDEATHSIG),
so no nginx outlives its test.

=item error_log, access_log, problems

Their contents; the lines that C<stop> would complain about.

=back

=cut
