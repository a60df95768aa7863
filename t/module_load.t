#!/usr/bin/perl

# The built .so loads into the stock nginx binary: "nginx -t" passes with
# load_module alone, and with no personalize directive pages are served as
# they are, with every variable "not found" or "none".

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

my ($ok, $out) = $t->nginx_t("http {\n}\n");
ok($ok, 'nginx -t with load_module passes') or diag($out);
like($out, qr/syntax is ok/, 'nginx -t: syntax is ok');

$t->write_file('html/index.html', "<html><body>plain</body></html>\n");

$t->run(<<'EOF');
http {
    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            root %%DIR%%/html;
        }

        location /vars {
            return 200 "[$personalize_id|$personalize_id_source|$personalize_profile|$personalize_segments|$personalize_field_x|$personalize_store_generation|$personalize_signed_id]";
        }
    }
}
EOF

my $r = $t->get('/index.html');
is($r->{status}, 200, 'a static page');
is($r->{body}, "<html><body>plain</body></html>\n", 'served unchanged');

is($t->get('/vars', 'X-Login' => 'c1', Cookie => 'pz=c1')->{body},
   '[|none|0||||]', 'no sources, no store: nothing personal');

$t->stop;

done_testing;
