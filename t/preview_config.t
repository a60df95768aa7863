#!/usr/bin/perl

# personalize_preview_key and personalize_status: operators' mistakes are
# nginx -t errors with file and line.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my @cases = (
    [ 'personalize_preview_key %%DIR%%/nonesuch.key;',
      qr/open\(\) ".*nonesuch\.key" failed/, 'missing key file' ],
    [ 'personalize_preview_key %%DIR%%/short.key;',
      qr/preview key file ".*short\.key" holds a too short key/, 'short key' ],
    [ 'personalize_preview_key %%DIR%%/empty.key;',
      qr/preview key file ".*empty\.key" holds a too short key/, 'empty key' ],
    [ 'server { listen 127.0.0.1:%%PORT%%; '
      . 'location / { personalize_preview_key %%DIR%%/good.key; } }',
      qr/"personalize_preview_key" directive is not allowed here/,
      'key in a location' ],
    [ 'personalize_key %%DIR%%/good.key; '
      . 'personalize_preview_key %%DIR%%/good.key;',
      qr/a personalize_preview_key is also a personalize_key: .* in \S+nginx-t\.conf:\d+/,
      'the visitor key as preview key' ],
    [ 'personalize_status;', qr/"personalize_status" directive is not allowed here/,
      'status at http level' ],
    [ 'server { listen 127.0.0.1:%%PORT%%; '
      . 'location / { personalize_status on; } }',
      qr/invalid number of arguments in "personalize_status"/,
      'status with an argument' ],
);

for my $c (@cases) {
    my ($directives, $re, $name) = @$c;

    my $t = PzTest->new;
    $t->write_file('short.key', "tooshort\n");
    $t->write_file('empty.key', '');
    $t->write_file('good.key', 'g' x 40);

    my ($ok, $out) = $t->nginx_t(<<"EOF");
http {
    $directives
}
EOF
    ok(!$ok, "nginx -t fails: $name");
    like($out, $re, "message: $name");
    my $line = $t->line_of(qr/^\s+(?:personalize_|server)/);
    like($out, qr/nginx-t\.conf:$line\b/, "file and line: $name");
}

# and the good case passes
my $t = PzTest->new;
$t->write_file('good.key', 'g' x 40 . "\n");
$t->write_file('old.key', 'o' x 40 . "\n");
my ($ok, $out) = $t->nginx_t(<<'EOF');
http {
    personalize_preview_key %%DIR%%/good.key;
    personalize_preview_key %%DIR%%/old.key;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /status { personalize_status; }
    }
}
EOF
ok($ok, 'two preview keys and a status location pass nginx -t')
    or diag($out);

done_testing;
