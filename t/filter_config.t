#!/usr/bin/perl

# Configuration mistakes in the filter's directives are nginx -t errors
# with file and line.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

sub conf_error {
    my ($directives, $re, $name) = @_;

    my ($ok, $out) = $t->nginx_t(<<"EOF");
http {
    server {
        listen 127.0.0.1:%%PORT%%;
        location / {
            $directives
        }
    }
}
EOF

    my $line = $t->line_of(qr/^\s*\Q$directives\E/);
    ok(!$ok, "$name: nginx -t fails");
    like($out, qr/\[emerg\] $re in \S+nginx-t\.conf:$line\b/,
         "$name: message with file:line");
}

conf_error('personalize maybe;',
           'invalid value "maybe" in "personalize" directive, '
           . 'it must be "on" or "off"',
           'personalize not a flag');
conf_error('personalize_cache_control private; '
           . 'personalize_cache_control public;',
           '"personalize_cache_control" directive is duplicate',
           'personalize_cache_control twice');
conf_error('personalize_cache_control "";',
           'invalid Cache-Control value ""',
           'personalize_cache_control empty');
conf_error('personalize_slot_buffer_size 100;',
           'value must be between 256 and 16777216',
           'personalize_slot_buffer_size too small');
conf_error('personalize_slot_buffer_size big;',
           '"personalize_slot_buffer_size" directive invalid value',
           'personalize_slot_buffer_size not a size');
conf_error('personalize_types;',
           'invalid number of arguments in "personalize_types" directive',
           'personalize_types without a type');

my ($ok, $out) = $t->nginx_t(<<'EOF');
http {
    personalize on;
    personalize_types text/plain application/xhtml+xml;
    personalize_cache_control "private, no-cache";
    personalize_slot_buffer_size 64k;
    server {
        listen 127.0.0.1:%%PORT%%;
        personalize off;
        location / {
            personalize on;
            personalize_cache_control off;
            if ($arg_x) { personalize off; }
        }
    }
}
EOF
ok($ok, 'every directive in its contexts: nginx -t passes') or diag($out);

done_testing;
