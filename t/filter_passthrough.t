#!/usr/bin/perl

# Responses the filter leaves alone: HEAD, 204, 304, redirects, a 206 from
# upstream, an empty body, subrequests (an SSI include keeps its markers
# while the page around it is processed); a Range request for a processed
# page gets the whole page (ranges are ignored), never a slice of it; an
# error page is processed.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

my $page = "<html><body><!-- personalize:hero -->hi<!-- /personalize:hero -->"
         . "</body></html>";
my $want = "<html><body>hi</body></html>";
my $inc = "<!-- personalize:inc -->included<!-- /personalize:inc -->";

$t->write_file('html/p.html', $page);
$t->write_file('html/empty.html', '');
$t->write_file('html/inc.html', $inc);
$t->write_file('html/ssi.html',
    "<!-- personalize:a -->A<!-- /personalize:a -->"
    . "[<!--# include virtual=\"/inc.html\" -->]");

my $b = PzBackend->new(port => $t->port(2), handler => sub {
    return (206, ['Content-Type' => 'text/html',
                  'Content-Range' => 'bytes 0-9/100',
                  'Content-Length' => 10],
            ['<!-- perso']);
});

$t->run(<<'EOF');
http {
    default_type text/html;

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;

        location = /204 { return 204; }
        location = /301 { return 301 /p.html; }
        location = /404 { error_page 404 /p.html; return 404; }

        location = /ssi.html { ssi on; }

        location /proxy/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
        }
    }
}
EOF

my $r = $t->get('/p.html', -method => 'HEAD');
is($r->{status}, 200, 'HEAD: status');
is($r->{body}, '', 'HEAD: no body');
is($r->{headers}{'content-length'}, length $page, 'HEAD: Content-Length kept');
ok(!exists $r->{headers}{'cache-control'}, 'HEAD: untouched headers');

$r = $t->get('/204');
is($r->{status}, 204, '204: status');
ok(!exists $r->{headers}{'cache-control'}, '204: untouched headers');

$r = $t->get('/301');
is($r->{status}, 301, 'redirect: status');
ok(!exists $r->{headers}{'cache-control'}, 'redirect: untouched headers');
like($r->{headers}{'content-length'} // '', qr/^\d+$/,
     'redirect: Content-Length kept');

$r = $t->get('/404');
is($r->{status}, 404, 'error page: status');
is($r->{body}, $want, 'error page: processed like a page');

my @st = stat($t->dir . '/html/p.html');
my $ims = HTTP_date($st[9]);
$r = $t->get('/p.html', 'If-Modified-Since' => $ims);
is($r->{status}, 304, '304: If-Modified-Since answered');
is($r->{body}, '', '304: no body');
ok(!exists $r->{headers}{'cache-control'}, '304: untouched headers');

$r = $t->get('/proxy/x');
is($r->{status}, 206, '206 from upstream: status');
is($r->{body}, '<!-- perso', '206 from upstream: body untouched');
is($r->{headers}{'content-range'}, 'bytes 0-9/100',
   '206 from upstream: Content-Range kept');
ok(!exists $r->{headers}{'cache-control'},
   '206 from upstream: untouched headers');

$r = $t->get('/p.html', Range => 'bytes=0-4');
is($r->{status}, 200, 'Range on a processed page: 200');
is($r->{body}, $want, 'Range on a processed page: the whole page');
ok(!exists $r->{headers}{'content-range'}, 'Range: no Content-Range');

$r = $t->get('/empty.html');
is($r->{status}, 200, 'empty body: status');
is($r->{body}, '', 'empty body: empty');
is($r->{headers}{'content-length'}, '0', 'empty body: untouched');

$r = $t->get('/ssi.html');
is($r->{body}, "A[$inc]",
   'subrequest: page processed, SSI include untouched');

$t->stop;
$b->stop;

done_testing;

sub HTTP_date {
    my ($time) = @_;
    my @d = gmtime($time);
    my @day = qw(Sun Mon Tue Wed Thu Fri Sat);
    my @mon = qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec);
    return sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT', $day[$d[6]], $d[3],
                   $mon[$d[4]], $d[5] + 1900, $d[2], $d[1], $d[0]);
}
