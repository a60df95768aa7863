#!/usr/bin/perl

# A response the filter processes loses Content-Length, Last-Modified,
# ETag and Accept-Ranges and gets Cache-Control: private (or the value of
# personalize_cache_control, or none with "off"), replacing what the
# upstream or "expires" said; with personalize off nothing changes.

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

$t->write_file('html/p.html', $page);

my $b = PzBackend->new(port => $t->port(2), handler => sub {
    return (200, ['Content-Type' => 'text/html; charset=utf-8',
                  'Content-Length' => length $page,
                  'Cache-Control' => 'public, max-age=600',
                  'Last-Modified' => 'Mon, 02 Jan 2023 10:00:00 GMT',
                  'ETag' => '"abc"'],
            [$page]);
});

$t->run(<<'EOF');
http {
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;

        location = /off/p.html {
            alias %%DIR%%/html/p.html;
            personalize off;
        }

        location = /nocache/p.html {
            alias %%DIR%%/html/p.html;
            personalize_cache_control "private, no-cache";
        }

        location = /cc-off/p.html {
            alias %%DIR%%/html/p.html;
            personalize_cache_control off;
        }

        location = /expires/p.html {
            alias %%DIR%%/html/p.html;
            expires 1h;
        }

        location /proxy/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
        }
    }
}
EOF

my $r = $t->get('/p.html');
is($r->{body}, $want, 'static: processed');
ok(!exists $r->{headers}{'content-length'}, 'static: no Content-Length');
ok(!exists $r->{headers}{'last-modified'}, 'static: no Last-Modified');
ok(!exists $r->{headers}{etag}, 'static: no ETag');
ok(!exists $r->{headers}{'accept-ranges'}, 'static: no Accept-Ranges');
is($r->{headers}{'cache-control'}, 'private', 'static: Cache-Control private');

$r = $t->get('/off/p.html');
is($r->{body}, $page, 'off: untouched');
is($r->{headers}{'content-length'}, length $page, 'off: Content-Length');
ok(exists $r->{headers}{'last-modified'}, 'off: Last-Modified');
like($r->{headers}{etag} || '', qr/^"/, 'off: strong ETag');
ok(!exists $r->{headers}{'cache-control'}, 'off: no Cache-Control');

is($t->get('/nocache/p.html')->{headers}{'cache-control'}, 'private, no-cache',
   'personalize_cache_control value');

$r = $t->get('/cc-off/p.html');
is($r->{body}, $want, 'personalize_cache_control off: processed');
ok(!exists $r->{headers}{'cache-control'},
   'personalize_cache_control off: no Cache-Control');

$r = $t->get('/expires/p.html');
is($r->{headers}{'cache-control'}, 'private',
   'expires: max-age replaced by private');

$r = $t->get('/proxy/p.html');
is($r->{body}, $want, 'proxied: processed');
is(scalar(grep { lc $_->[0] eq 'cache-control' } @{$r->{header_list}}), 1,
   'proxied: one Cache-Control header');
is($r->{headers}{'cache-control'}, 'private',
   'proxied: public Cache-Control replaced');
ok(!exists $r->{headers}{'content-length'}, 'proxied: no Content-Length');
ok(!exists $r->{headers}{'last-modified'}, 'proxied: no Last-Modified');
ok(!exists $r->{headers}{etag}, 'proxied: no ETag');

$t->stop;
$b->stop;

done_testing;
