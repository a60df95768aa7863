#!/usr/bin/perl

# The filter removes slot markers and keeps the defaults when nothing is
# personalized: static files, markers at the very end, nested, unclosed,
# duplicate and stray markers, ordinary comments; "personalize off" leaves
# the page byte for byte.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

my %pages = (
    'slot.html' => [
        "<html><body>a<!-- personalize:hero -->default hero"
        . "<!-- /personalize:hero -->b</body></html>",
        "<html><body>adefault herob</body></html>"],
    'end.html' => [
        "x<!-- personalize:hero -->y<!-- /personalize:hero -->",
        "xy"],
    'unclosed.html' => [
        "x<!-- personalize:hero -->tail of the page",
        "xtail of the page"],
    'open-at-end.html' => [
        "x<!-- personalize:hero -->",
        "x"],
    'nested.html' => [
        "<!-- personalize:a -->1<!-- personalize:b -->2"
        . "<!-- /personalize:b -->3<!-- /personalize:a -->4",
        "1234"],
    'duplicate.html' => [
        "<!-- personalize:a -->1<!-- /personalize:a -->"
        . "<!-- personalize:a -->2<!-- /personalize:a -->",
        "12"],
    'stray.html' => [
        "a<!-- /personalize:a -->b",
        "ab"],
    'comments.html' => [
        "<!DOCTYPE html><!-- keep me --><!--[if IE]>ie<![endif]-->"
        . "<!-- personalize: not a marker -->",
        "<!DOCTYPE html><!-- keep me --><!--[if IE]>ie<![endif]-->"
        . "<!-- personalize: not a marker -->"],
    'prompts.html' => [
        "a<!-- personalize:prompts -->b</body>",
        "ab</body>"],
    'nomarkers.html' => [
        "<html><body><p>plain</p><input name=coupon></body></html>",
        "<html><body><p>plain</p><input name=coupon></body></html>"],
);

$t->write_file("html/$_", $pages{$_}[0]) for keys %pages;

# a page larger than the output buffers, markers all over it
my ($big, $bigwant) = ('', '');
for my $i (1 .. 2000) {
    $big .= "<p>row $i</p><!-- personalize:s$i -->d$i<!-- /personalize:s$i -->";
    $bigwant .= "<p>row $i</p>d$i";
}
$t->write_file('html/big.html', $big);

$t->run(<<'EOF');
http {
    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        output_buffers 2 1k;

        location / {
            personalize on;
        }

        location /off/ {
            alias %%DIR%%/html/;
            personalize off;
        }
    }
}
EOF

for my $p (sort keys %pages) {
    my $r = $t->get("/$p");
    is($r->{status}, 200, "$p: status");
    is($r->{body}, $pages{$p}[1], "$p: markers removed, defaults kept");
}

my $r = $t->get('/big.html');
is($r->{body}, $bigwant, 'big page in small buffers: every marker removed');

for my $p (sort keys %pages) {
    is($t->get("/off/$p")->{body}, $pages{$p}[0], "$p: personalize off");
}

like($t->error_log, qr/\[warn\].*personalize: slot "hero" not closed/,
     'unclosed slot logged');
like($t->error_log, qr/\[warn\].*close marker "a" without open marker/,
     'stray close marker logged');
like($t->error_log, qr/\[warn\].*marker "b" inside a slot/,
     'nested marker logged');

$t->stop;

done_testing;
