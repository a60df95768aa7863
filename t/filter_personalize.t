#!/usr/bin/perl

# Personalized content in the page: a slot's default replaced by the
# winning block, the default kept for visitors without a winner, prompts
# before </body> or at the prompt marker, <input> values prefilled (only
# empty ones unless "overwrite"), profile data escaped in the value.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $evil = q{A"B'<x>&};

$t->load_store([
    { id => 'vip', segments => ['vip'], first_name => 'Anna', points => 10 },
    { id => 'loyal', segments => [], points => 1500, code => 'SAVE15' },
    { id => 'evil', segments => ['vip'], first_name => '<script>',
      points => 2000, code => $evil, email => 'e@x' },
], schema => { segments => 'list', first_name => 'string', points => 'int',
               code => 'string', email => 'string' });

$t->write_file('blocks/vip.html', '<b>Welcome {{first_name}}</b>');
$t->write_file('blocks/help.html', '<div class="help">help?</div>');

my $page = <<'HTML';
<html><body>
<!-- personalize:hero --><p>default hero</p><!-- /personalize:hero -->
<form><input type="text" name="coupon"><input name="coupon2" value="MINE">
<input name="email" value="old@x"></form>
</body></html>
HTML

$t->write_file('html/p.html', $page);
$t->write_file('html/marker.html',
               "<p>a</p><!-- personalize:prompts --><p>b</p></body>");
$t->write_file('html/commented.html', <<'HTML');
<!-- old checkout: <input name="coupon"> </body> -->
<textarea name="notes"><input name="coupon"></textarea>
<form><input name="coupon"></form>
</body>
HTML

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    personalize_rule vip-hero {
        slot hero;
        when segment vip;
        priority 90;
        block blocks/vip.html;
    }

    personalize_rule loyalty {
        when field points >= 1000;
        prefill coupon "{{code}}";
    }

    personalize_rule loyalty2 {
        when field points >= 1000;
        prefill coupon2 "{{code}}";
    }

    personalize_rule email {
        when field email exists;
        prefill email "{{email}}" overwrite;
    }

    personalize_rule help {
        when var $arg_q exists;
        prompt blocks/help.html;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;
    }
}
EOF

(my $default = $page) =~ s/<!-- \/?personalize:hero -->//g;

my $r = $t->get('/p.html');
is($r->{status}, 200, 'anonymous: status');
is($r->{body}, $default, 'anonymous: defaults, markers removed');

$r = $t->get('/p.html', 'X-Login' => 'vip');
(my $want = $default) =~ s{<p>default hero</p>}{<b>Welcome Anna</b>};
is($r->{body}, $want, 'vip: hero replaced');

$r = $t->get('/p.html', 'X-Login' => 'loyal');
($want = $default) =~ s{<input type="text" name="coupon">}
                        {<input value="SAVE15" type="text" name="coupon">};
is($r->{body}, $want, 'loyal: empty input prefilled, filled one kept');

$r = $t->get('/p.html', 'X-Login' => 'evil');
like($r->{body}, qr{<b>Welcome &lt;script&gt;</b>},
     'evil: block text escaped');
like($r->{body},
     qr{<input value="A&quot;B&#39;&lt;x&gt;&amp;" type="text" name="coupon">},
     'evil: prefill value escaped for the attribute');
like($r->{body}, qr{<input name="email" value="e\@x">},
     'overwrite: value replaced');
unlike($r->{body}, qr{old\@x}, 'overwrite: old value gone');

$r = $t->get('/commented.html', 'X-Login' => 'loyal');
is($r->{body}, <<'HTML', 'inputs in a comment or a textarea are no fields');
<!-- old checkout: <input name="coupon"> </body> -->
<textarea name="notes"><input name="coupon"></textarea>
<form><input value="SAVE15" name="coupon"></form>
</body>
HTML

$r = $t->get('/p.html?q=shoes');
($want = $default) =~ s{</body>}{<div class="help">help?</div></body>};
is($r->{body}, $want, 'prompt before </body>');

$r = $t->get('/marker.html?q=shoes');
is($r->{body}, '<p>a</p><div class="help">help?</div><p>b</p></body>',
   'prompt at the prompt marker, not again before </body>');

$t->stop;

done_testing;
