#!/usr/bin/perl

# Streaming: a page from proxy_pass that arrives in 1-byte pieces, or in
# two pieces split at every offset, or chunked, with proxy buffering on and
# off, comes out byte for byte as the same page does in one piece; markers
# and <input> tags split across buffers work, and so do markers at the
# very end of the body.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'vip', segments => ['vip'], code => 'C&1' },
], schema => { segments => 'list', code => 'string' });

$t->write_file('blocks/vip.html', '<b>VIP</b>');
$t->write_file('blocks/help.html', '<i>help</i>');

my $page = '<html><body><!-- personalize:hero -->default'
         . '<!-- /personalize:hero --><input name="coupon" value="">'
         . '</body><!-- personalize:tail -->t<!-- /personalize:tail -->';

my $want_anon = '<html><body>default<input name="coupon" value="">'
              . '</body>t';
my $want_vip = '<html><body><b>VIP</b><input name="coupon" value="C&amp;1">'
             . '<i>help</i></body>t';

$t->write_file('html/p.html', $page);

# /1 one byte per write, /split/N two writes cut at N, /whole one write
my $b = PzBackend->new(port => $t->port(2), handler => sub {
    my ($req) = @_;
    my @h = ('Content-Type' => 'text/html');
    my $uri = $req->{uri};

    push @h, 'Transfer-Encoding' => 'chunked' if $uri =~ s{^/chunked}{};

    return (200, \@h, [split //, $page], 0.005) if $uri eq '/1';
    return (200, \@h, [substr($page, 0, $1), substr($page, $1)], 0.02)
        if $uri =~ m{^/split/(\d+)$};
    return (200, \@h, [$page]);
});

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    personalize_rule vip-hero { slot hero; when segment vip;
                                block blocks/vip.html; }
    personalize_rule vip-code { when segment vip; prefill coupon "{{code}}"; }
    personalize_rule vip-help { when segment vip; prompt blocks/help.html; }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;

        location /p/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
            proxy_http_version 1.1;
            proxy_buffer_size 256;
            proxy_buffers 4 256;
            proxy_busy_buffers_size 256;
        }

        location /u/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
            proxy_http_version 1.1;
            proxy_buffering off;
            proxy_buffer_size 256;
        }
    }
}
EOF

my @vip = ('X-Login' => 'vip');

is($t->get('/p.html')->{body}, $want_anon, 'static, anonymous');
is($t->get('/p.html', @vip)->{body}, $want_vip, 'static, vip');
is($t->get('/p/whole')->{body}, $want_anon, 'proxied in one piece, anonymous');
is($t->get('/p/whole', @vip)->{body}, $want_vip, 'proxied in one piece, vip');

for my $loc ('/p', '/u') {
    is($t->get("$loc/1")->{body}, $want_anon, "$loc: 1-byte pieces, anonymous");
    is($t->get("$loc/1", @vip)->{body}, $want_vip, "$loc: 1-byte pieces, vip");
    my $r = $t->get("$loc/chunked/1", @vip);
    is($r->{body}, $want_vip,
       "$loc: 1-byte chunks, vip");
}

my @bad;
for my $n (1 .. length($page) - 1) {
    my $loc = $n % 2 ? '/p' : '/u';
    my $r = $t->get("$loc/split/$n", @vip);
    push @bad, $n if $r->{body} ne $want_vip;
}
is("@bad", '', 'split at every offset: same output');

$t->stop;
$b->stop;

done_testing;
