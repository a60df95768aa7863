#!/usr/bin/perl

# Compression: "gzip on" compresses the personalized page; an upstream
# that sends gzip is personalized with "gunzip on" (for clients with and
# without gzip) and passes through untouched without it.

use strict;
use warnings;

use Test::More;
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Uncompress::Gunzip qw(gunzip $GunzipError);

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([ { id => 'vip', segments => ['vip'] } ],
               schema => { segments => 'list' });
$t->write_file('blocks/vip.html', '<b>VIP</b>');

my $page = '<html><body><!-- personalize:hero -->default'
         . '<!-- /personalize:hero --></body></html>' . ('x' x 2000);
(my $want = $page) =~ s{<!-- personalize:hero -->default}{<b>VIP</b>};
$want =~ s{<!-- /personalize:hero -->}{};

$t->write_file('html/p.html', $page);

gzip(\$page => \my $zpage) or die "gzip failed: $GzipError";

my $b = PzBackend->new(port => $t->port(2), handler => sub {
    return (200, ['Content-Type' => 'text/html', 'Content-Encoding' => 'gzip',
                  'Content-Length' => length $zpage],
            [substr($zpage, 0, length($zpage) / 2),
             substr($zpage, length($zpage) / 2)], 0.02);
});

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_rule vip { slot hero; when segment vip; block blocks/vip.html; }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;
        gzip on;
        gzip_min_length 1;

        location /gunzip/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
            gunzip on;
        }

        location /plain/ {
            proxy_pass http://127.0.0.1:%%PORT2%%/;
        }
    }
}
EOF

sub unzipped {
    my ($r) = @_;
    my $out;
    gunzip(\$r->{body} => \$out) or return "gunzip failed: $GunzipError";
    return $out;
}

my @vip = ('X-Login' => 'vip');
my @gz = ('Accept-Encoding' => 'gzip');

my $r = $t->get('/p.html', @vip, @gz);
is($r->{headers}{'content-encoding'}, 'gzip', 'static: gzip on compresses');
is(unzipped($r), $want, 'static: compressed body is personalized');

$r = $t->get('/gunzip/p.html', @vip);
ok(!exists $r->{headers}{'content-encoding'},
   'gunzip on, client without gzip: plain');
is($r->{body}, $want, 'gunzip on, client without gzip: personalized');

$r = $t->get('/gunzip/p.html', @vip, @gz);
is($r->{headers}{'content-encoding'}, 'gzip',
   'gunzip on, client with gzip: compressed again');
is(unzipped($r), $want, 'gunzip on, client with gzip: personalized');

$r = $t->get('/plain/p.html', @vip, @gz);
is($r->{headers}{'content-encoding'}, 'gzip', 'gunzip off: still gzip');
is($r->{body}, $zpage, 'gunzip off: upstream bytes untouched');
ok(!exists $r->{headers}{'cache-control'}, 'gunzip off: headers untouched');

$t->stop;
$b->stop;

done_testing;
