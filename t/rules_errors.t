#!/usr/bin/perl

# Every mistake in rules, experiments and templates is an "nginx -t"
# failure naming the file and line at fault, with a message a content
# editor understands; template mistakes also name the template's line.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->write_file('blocks/ok.html', "<p>{{first_name}}</p>\n");
$t->write_file('blocks/unclosed.html', "<ul>\n{{#each favourites}}\n<li>x\n");
$t->write_file('blocks/unquoted.html', "<p>\n<a title={{first_name}}>x</a>\n");
$t->write_file('blocks/style.html', "<style>\np { color: {{c}} }\n</style>\n");
$t->write_file('blocks/onclick.html', "<a onclick=\"go('{{id}}')\">x</a>\n");
$t->write_file('blocks/jscode.html', "<script>\nvar a = {{id}};\n</script>\n");
$t->write_file('blocks/jsregex.html',
               "<script>var r = /x/;\nvar a = \"{{id}}\";</script>\n");
$t->write_file('blocks/braces.html', "<p>{{first_name</p>\n");
$t->write_file('blocks/item.html', "<p>{{.name}}</p>\n");
$t->write_file('blocks/nested.html',
               "{{#each a}}{{#each b}}{{/each}}{{/each}}\n");
$t->write_file('blocks/open.html', "<p>x</p>\n<script>var a;\n");
$t->write_file('blocks/fallback.html', "<p>{{a|there}}</p>\n");
$t->write_file('blocks/scriptsrc.html', "<script src=\"{{cdn}}\"></script>\n");
$t->write_file('blocks/jsurl.html',
               "<a href=\"javascript:show('{{id}}')\">x</a>\n");
$t->write_file('blocks/mkscheme.html', "<a href=\"{{a}}:alert(1)\">x</a>\n");
$t->write_file('blocks/recent.html',
               "<ul>\n{{#each recent:viewed}}<li>{{.}}</li>{{/each}}</ul>\n");
$t->write_file('blocks/loopctx.html',
               "<p title=\"{{#each a}}\">{{.}}{{/each}}</p>\n");

# each case: name, the http block's inside (the line marked "# HERE" is at
# fault), expected message
my @cases = (
    ['unknown condition', <<'EOF', qr/unknown condition "segmnt"; expected segment, field/],
personalize_rule r {
    slot hero;
    when segmnt vip; # HERE
    block blocks/ok.html;
}
EOF
    ['bad operator', <<'EOF', qr/unknown operator "=>"/],
personalize_rule r { slot hero; block blocks/ok.html;
    when field clv => 500; # HERE
}
EOF
    ['ordering a word', <<'EOF', qr/">=" compares numbers or times, and "gold" is neither/],
personalize_rule r { slot hero; block blocks/ok.html;
    when field tier >= gold; # HERE
}
EOF
    ['bad regex', <<'EOF', qr/bad regular expression "\(shoe": .*missing/],
personalize_rule r { slot hero; block blocks/ok.html;
    when var $arg_q ~* "(shoe"; # HERE
}
EOF
    ['bad duration', <<'EOF', qr/invalid duration "2 days"/],
personalize_rule r { slot hero; block blocks/ok.html;
    when field cart_at within "2 days"; # HERE
}
EOF
    ['segment syntax', <<'EOF', qr/a "segment" condition is written as: segment \[all\|none\]/],
personalize_rule r { slot hero; block blocks/ok.html;
    when segment some vip,gold; # HERE
}
EOF
    ['empty segment', <<'EOF', qr/a "segment" condition is written as/],
personalize_rule r { slot hero; block blocks/ok.html;
    when segment vip,,gold; # HERE
}
EOF
    ['unknown source', <<'EOF', qr/unknown source "email"/],
personalize_rule r { slot hero; block blocks/ok.html;
    when source login,email; # HERE
}
EOF
    ['time window backwards', <<'EOF', qr/the campaign ends .* before it starts/],
personalize_rule r { slot hero; block blocks/ok.html;
    when time 2026-12-01T00:00:00Z 2026-11-20T00:00:00Z; # HERE
}
EOF
    ['or without a condition', <<'EOF', qr/"or" needs a condition on both sides/],
personalize_rule r { slot hero; block blocks/ok.html;
    when segment vip or; # HERE
}
EOF
    ['empty when', <<'EOF', qr/"when" needs a condition/],
personalize_rule r { slot hero; block blocks/ok.html;
    when; # HERE
}
EOF
    ['unknown counter', <<'EOF', qr/unknown counter "failed_serches": declare it with personalize_event/],
personalize_zone rt:1m;
personalize_rule r { prompt blocks/ok.html;
    when counter failed_serches >= 3; # HERE
}
server { location / { personalize_event failed_searches; } }
EOF
    ['unknown recent event', <<'EOF', qr/template .*recent\.html:2: unknown event "viewed": declare it with personalize_event viewed push=/],
personalize_zone rt:1m;
personalize_rule r { slot hero; # HERE
    block blocks/recent.html;
}
server { location / { personalize_event viewed; } }
EOF
    ['counter with a word', <<'EOF', qr/write "counter NAME OP NUMBER"/],
personalize_rule r { prompt blocks/ok.html;
    when counter failed_searches = many; # HERE
}
EOF
    ['unknown statement', <<'EOF', qr/unknown statement "blok" in personalize_rule "r"/],
personalize_rule r { slot hero;
    blok blocks/ok.html; # HERE
}
EOF
    ['missing action', <<'EOF', qr/rule "r" has no action/],
personalize_rule r { # HERE
    slot hero;
    when segment vip;
}
EOF
    ['block without slot', <<'EOF', qr/rule "r" has a block but no slot/],
personalize_rule r { # HERE
    block blocks/ok.html;
}
EOF
    ['slot on a prompt', <<'EOF', qr/rule "r" has a slot but no block/],
personalize_rule r { # HERE
    slot hero;
    prompt blocks/ok.html;
}
EOF
    ['two actions', <<'EOF', qr/rule "r" already has an action/],
personalize_rule r { slot hero; block blocks/ok.html;
    prompt blocks/ok.html; # HERE
}
EOF
    ['bad slot name', <<'EOF', qr/write "slot NAME;" with the name of the page's slot marker/],
personalize_rule r { block blocks/ok.html;
    slot main--hero; # HERE
}
EOF
    ['slot named prompts', <<'EOF', qr/write "slot NAME;"/],
personalize_rule r { block blocks/ok.html;
    slot prompts; # HERE
}
EOF
    ['bad priority', <<'EOF', qr/the priority must be a whole number from 0 to 1000000/],
personalize_rule r { slot hero; block blocks/ok.html;
    priority high; # HERE
}
EOF
    ['duplicate rule', <<'EOF', qr/duplicate rule "r", the first one is in .*nginx-t\.conf:\d+/],
personalize_rule r { slot hero; block blocks/ok.html; }
personalize_rule r { slot side; block blocks/ok.html; } # HERE
EOF
    ['bad rule name', <<'EOF', qr/invalid rule name "r\.1"/],
personalize_rule r.1 { slot hero; block blocks/ok.html; } # HERE
EOF
    ['missing template', <<'EOF', qr/template ".*blocks\/none\.html" cannot be read/],
personalize_rule r { slot hero;
    block blocks/none.html; # HERE
}
EOF
    ['unclosed loop', <<'EOF', qr/template .*unclosed\.html:2: "\{\{#each favourites\}\}" is not closed/],
personalize_rule r { slot hero;
    block blocks/unclosed.html; # HERE
}
EOF
    ['unquoted attribute', <<'EOF', qr/template .*unquoted\.html:2: an attribute value with a placeholder must be in quotes/],
personalize_rule r { slot hero;
    block blocks/unquoted.html; # HERE
}
EOF
    ['placeholder in style', <<'EOF', qr/template .*style\.html:2: placeholders are not allowed inside <style>/],
personalize_rule r { slot hero;
    block blocks/style.html; # HERE
}
EOF
    ['placeholder in onclick', <<'EOF', qr/template .*onclick\.html:1: a placeholder cannot stand in an event handler attribute/],
personalize_rule r { slot hero;
    block blocks/onclick.html; # HERE
}
EOF
    ['placeholder choosing a script host', <<'EOF', qr/template .*scriptsrc\.html:1: a placeholder cannot begin the address of a <script>/],
personalize_rule r { slot hero;
    block blocks/scriptsrc.html; # HERE
}
EOF
    ['placeholder in a javascript: url', <<'EOF', qr/template .*jsurl\.html:1: a placeholder cannot stand in a javascript:, data: or other address/],
personalize_rule r { slot hero;
    block blocks/jsurl.html; # HERE
}
EOF
    ['placeholder making a scheme', <<'EOF', qr/template .*mkscheme\.html:\d+: an address with a placeholder must be http:, https: or relative/],
personalize_rule r { slot hero;
    block blocks/mkscheme.html; # HERE
}
EOF
    ['placeholder in script code', <<'EOF', qr/template .*jscode\.html:2: inside <script>, a placeholder must stand inside a quoted string/],
personalize_rule r { slot hero;
    block blocks/jscode.html; # HERE
}
EOF
    ['placeholder after a regex', <<'EOF', qr/template .*jsregex\.html:2: inside <script>, a placeholder cannot follow a "\/"/],
personalize_rule r { slot hero;
    block blocks/jsregex.html; # HERE
}
EOF
    ['unclosed braces', <<'EOF', qr/template .*braces\.html:1: "\{\{" is not closed with "\}\}"/],
personalize_rule r { slot hero;
    block blocks/braces.html; # HERE
}
EOF
    ['item outside a loop', <<'EOF', qr/template .*item\.html:1: .* work only inside "\{\{#each \.\.\.\}\}"/],
personalize_rule r { slot hero;
    block blocks/item.html; # HERE
}
EOF
    ['nested loops', <<'EOF', qr/template .*nested\.html:1: loops cannot be nested/],
personalize_rule r { slot hero;
    block blocks/nested.html; # HERE
}
EOF
    ['unclosed script', <<'EOF', qr/template .*open\.html:3: <script> is not closed/],
personalize_rule r { slot hero;
    block blocks/open.html; # HERE
}
EOF
    ['unquoted fallback', <<'EOF', qr/template .*fallback\.html:1: a fallback is written in double quotes/],
personalize_rule r { slot hero;
    block blocks/fallback.html; # HERE
}
EOF
    ['loop across contexts', <<'EOF', qr/template .*loopctx\.html:1: a loop must end where it began/],
personalize_rule r { slot hero;
    block blocks/loopctx.html; # HERE
}
EOF
    ['bad prefill value', <<'EOF', qr/in the value: a placeholder needs a field name/],
personalize_rule r {
    prefill coupon "{{ }}"; # HERE
}
EOF
    ['prefill syntax', <<'EOF', qr/write "prefill INPUT VALUE;"/],
personalize_rule r {
    prefill coupon X always; # HERE
}
EOF
    ['unknown experiment', <<'EOF', qr/unknown experiment "hero-tset"/],
personalize_experiment hero-test { variant a 50%; variant b 50%; }
personalize_rule r { slot hero; block blocks/ok.html;
    when variant hero-tset a; # HERE
}
EOF
    ['unknown variant', <<'EOF', qr/experiment "hero-test" has no variant "c"/],
personalize_rule r { slot hero; block blocks/ok.html;
    when variant hero-test c; # HERE
}
personalize_experiment hero-test { variant a 50%; variant b 50%; }
EOF
    ['holdout without holdout', <<'EOF', qr/experiment "hero-test" has no holdout/],
personalize_experiment hero-test { variant a 50%; variant b 50%; }
personalize_rule r { slot hero; block blocks/ok.html;
    when holdout hero-test; # HERE
}
EOF
    ['over 100%', <<'EOF', qr/the percentages of experiment "x" add up to more than 100%/],
personalize_experiment x {
    variant a 45%;
    variant b 45%;
    holdout 10.5%; # HERE
}
EOF
    ['bad percentage', <<'EOF', qr/invalid percentage "45"/],
personalize_experiment x {
    variant a 45; # HERE
}
EOF
    ['duplicate variant', <<'EOF', qr/experiment "x" has two variants "a"/],
personalize_experiment x {
    variant a 10%;
    variant a 10%; # HERE
}
EOF
    ['experiment without variants', <<'EOF', qr/experiment "x" has no variant/],
personalize_experiment x {
    holdout 10%;
} # HERE
EOF
    ['duplicate experiment', <<'EOF', qr/duplicate experiment "x"/],
personalize_experiment x { variant a 10%; }
personalize_experiment x { variant a 10%; } # HERE
EOF
    ['max blocks', <<'EOF', qr/"personalize_max_blocks" directive invalid number/],
personalize_max_blocks two; # HERE
EOF
    ['rule in a server', <<'EOF', qr/"personalize_rule" directive is not allowed here/],
server {
    personalize_rule r { slot hero; block blocks/ok.html; } # HERE
}
EOF
);

for my $c (@cases) {
    my ($name, $body, $re) = @$c;

    my ($ok, $out) = $t->nginx_t("http {\n$body}\n");
    my $line = $t->line_of(qr/# HERE/);

    ok(!$ok, "$name: nginx -t fails");
    like($out, qr/\[emerg\] .*$re/, "$name: message") or diag($out);
    like($out, qr/nginx-t\.conf:$line\b/, "$name: file and line $line")
        or diag($out);
}

# a mistake in an included rule file names that file

$t->write_file('rules/hero.conf', <<'EOF');
# hero rules
personalize_rule r1 { slot hero; block blocks/ok.html; }

personalize_rule r2 {
    slot hero;
    include %%DIR%%/rules/when.conf;
    block blocks/ok.html;
}
EOF
my $inc = $t->read_file('rules/hero.conf');
$inc =~ s/%%DIR%%/$t->dir/ge;
$t->write_file('rules/hero.conf', $inc);
$t->write_file('rules/when.conf', "when segment vip;\nwhen feild x = 1;\n");

my ($ok, $out) = $t->nginx_t(<<'EOF');
http {
    include %%DIR%%/rules/*.conf;
}
EOF
ok(!$ok, 'included file: nginx -t fails');
like($out, qr/unknown condition "feild".*rules\/when\.conf:2/,
     'included file: the file and line inside the include') or diag($out);

($ok, $out) = $t->nginx_t(<<'EOF');
http {
    personalize_experiment hero-test { variant a 45%; variant b 45%;
                                       holdout 10%; }
    personalize_max_blocks 3;
    personalize_max_prompts 0;

    personalize_rule r1 {
        slot hero;
        when segment vip,gold or not field clv < 10.5;
        when segment all a,b;
        when segment none loss_making;
        when field first_name ~* "^an" or field first_name !~ x;
        when field cart_at within 2d or field bought_at older_than 90d;
        when field x exists or field y missing or field z != q;
        when var $arg_q ~ shoe or var "$uri$args" exists;
        when referrer_search ~* boots or referrer_search missing;
        when source login,cookie or source identified;
        when profile or consent;
        when time 2026-11-20T00:00:00Z 2026-12-01T00:00:00Z;
        when variant hero-test a or holdout hero-test;
        when counter failed_searches >= 3;
        priority 90;
        block blocks/ok.html;
    }

    personalize_rule p { prompt blocks/ok.html; }
    personalize_rule d { slot home.hero-2; block blocks/ok.html; }
    personalize_rule c { prefill coupon "{{code|\"WELCOME\"}}" overwrite; }

    personalize_zone rt:1m;

    server {
        listen 127.0.0.1:%%PORT%%;
        location / { return 200 "$personalize_decisions"; }
        location /search { personalize_event failed_searches; }
    }
}
EOF
ok($ok, 'every condition and statement in a good configuration passes')
    or diag($out);

$t->stop;

done_testing;
