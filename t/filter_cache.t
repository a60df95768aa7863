#!/usr/bin/perl

# Behind proxy_cache: the cache holds the anonymous page as the upstream
# sent it, personalization is applied per request on the way out, so an
# anonymous client never receives another visitor's bytes, whoever filled
# the cache; and clients are told Cache-Control: private.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'vip', segments => ['vip'], first_name => 'Anna' },
    { id => 'vip2', segments => ['vip'], first_name => 'Bert' },
], schema => { segments => 'list', first_name => 'string' });

$t->write_file('blocks/vip.html', '<b>secret for {{first_name}}</b>');

my $page = '<html><body><!-- personalize:hero -->default'
         . '<!-- /personalize:hero --></body></html>';

my $b = PzBackend->new(port => $t->port(2), handler => sub {
    return (200, ['Content-Type' => 'text/html',
                  'Cache-Control' => 'public, max-age=600'],
            [substr($page, 0, 30), substr($page, 30)], 0.01);
});

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_rule vip { slot hero; when segment vip; block blocks/vip.html; }

    proxy_cache_path %%DIR%%/cache keys_zone=pz:1m;

    server {
        listen 127.0.0.1:%%PORT%%;
        personalize on;

        location / {
            proxy_pass http://127.0.0.1:%%PORT2%%;
            proxy_cache pz;
            add_header X-Cache $upstream_cache_status always;
        }
    }
}
EOF

my $anon = '<html><body>default</body></html>';

my $r = $t->get('/a', 'X-Login' => 'vip');
is($r->{headers}{'x-cache'}, 'MISS', 'vip first: cache miss');
is($r->{body}, '<html><body><b>secret for Anna</b></body></html>',
   'vip first: personalized');
is($r->{headers}{'cache-control'}, 'private', 'vip first: private');

$r = $t->get('/a');
is($r->{headers}{'x-cache'}, 'HIT', 'anonymous after vip: cache hit');
is($r->{body}, $anon, 'anonymous after vip: default content');
unlike($r->{raw}, qr/secret|Anna/, 'anonymous after vip: no byte of the vip');

$r = $t->get('/a', 'X-Login' => 'vip2');
is($r->{headers}{'x-cache'}, 'HIT', 'second vip: cache hit');
is($r->{body}, '<html><body><b>secret for Bert</b></body></html>',
   'second vip: own content from the cached page');

$r = $t->get('/b');
is($r->{headers}{'x-cache'}, 'MISS', 'anonymous first: cache miss');
is($r->{body}, $anon, 'anonymous first: default content');

$r = $t->get('/b', 'X-Login' => 'vip');
is($r->{headers}{'x-cache'}, 'HIT', 'vip after anonymous: cache hit');
is($r->{body}, '<html><body><b>secret for Anna</b></body></html>',
   'vip after anonymous: personalized');

$t->stop;
$b->stop;

done_testing;
