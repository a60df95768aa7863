#!/usr/bin/perl
# Writes the benchmark's shop page: a realistic category page of a webshop
# (head with inline CSS, mega menu, three personalization slots, a product
# grid, a mini cart with a coupon field, footer, scripts, </body>).
#
#   perl mkpage.pl [--size BYTES] [--ssi] > page.html
#
# --size grows the product grid until the page has at least BYTES (default
# 24000, about 25 KB); --ssi writes SSI includes where the slots are, for
# the SSI peer.

use strict;
use warnings;
use Getopt::Long;

my ($size, $ssi) = (24000, 0);
GetOptions('size=i' => \$size, 'ssi' => \$ssi)
    or die "usage: mkpage.pl [--size BYTES] [--ssi]\n";

my %default = (
    promo     => '<div class="promo" id="promo">Free delivery on orders over &euro;50</div>',
    hero      => '<section class="hero" id="hero"><h1>Winter collection is here</h1><p>Warm coats, soft scarves and boots for wet days.</p></section>',
    crosssell => '<ul class="products" id="crosssell"><li>Bestsellers this week</li></ul>',
);

sub slot {
    my ($name) = @_;
    return qq{<!--# include virtual="/slot/$name" -->} if $ssi;
    return "<!-- personalize:$name -->$default{$name}<!-- /personalize:$name -->";
}

my @cats = qw(Women Men Kids Shoes Bags Accessories Home Beauty Sport Sale);
my @words = qw(wool cotton linen merino leather canvas recycled organic
               classic slim relaxed cropped long short knitted padded);
my @things = qw(coat jacket scarf sweater shirt dress trousers jeans boots
                sneaker bag belt cap gloves socks blanket mug candle);

my $head = <<'END';
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Winter collection - Northwind Goods</title>
<meta name="description" content="Coats, scarves, boots and more for the cold season. Free delivery on orders over 50 euro, free returns within 30 days.">
<link rel="canonical" href="https://shop.example/winter">
<link rel="preload" href="/fonts/inter.woff2" as="font" type="font/woff2" crossorigin>
<style>
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d2330;background:#f6f5f2}
a{color:#0b5cad}header.top{display:flex;align-items:center;gap:2rem;padding:.8rem 2rem;background:#1d2330;color:#fff}
header.top a{color:#fff;text-decoration:none}.promo{background:#ffd54a;text-align:center;padding:.4rem}
main{max-width:1200px;margin:0 auto;padding:1.5rem 2rem}.hero{background:#fff;border-radius:8px;padding:2rem}
.grid{display:grid;grid-template-columns:repeat(4,1fr);gap:1rem;list-style:none;padding:0}
.grid li{background:#fff;border-radius:6px;padding:.8rem;text-align:center;box-shadow:0 1px 2px #0002}
.grid img{width:100%;height:160px;object-fit:cover}.price{font-weight:600}.old{text-decoration:line-through;color:#888}
.badge{display:inline-block;background:#e0683a;color:#fff;font-size:.75rem;padding:0 .4rem;border-radius:3px}
footer{background:#1d2330;color:#ccc;padding:2rem}footer a{color:#ccc}.cols{display:grid;grid-template-columns:repeat(4,1fr)}
</style>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Organization","name":"Northwind Goods","url":"https://shop.example/"}</script>
</head>
<body>
END

my $menu = qq{<header class="top">\n<a class="logo" href="/">Northwind Goods</a>\n<nav class="mega">\n};
for my $c (@cats) {
    $menu .= qq{<div class="menu"><a href="/c/\L$c\E">$c</a><ul>};
    for my $t (@things[0 .. 7]) {
        $menu .= qq{<li><a href="/c/\L$c\E/$t">\u$t</a></li>};
    }
    $menu .= "</ul></div>\n";
}
$menu .= qq{</nav>\n<form action="/search" method="get" role="search"><input name="q" placeholder="Search" aria-label="Search"></form>\n</header>\n};

my $mid = "<main>\n" . slot('hero') . "\n"
    . qq{<nav class="crumbs"><a href="/">Home</a> &rsaquo; <a href="/c/women">Women</a> &rsaquo; Winter collection</nav>\n}
    . qq{<h1>Winter collection</h1>\n<ul class="grid">\n};

my $tail = "</ul>\n<h2>Picked for you</h2>\n" . slot('crosssell') . "\n"
    . <<'END';
<aside class="minicart" id="minicart">
<h2>Your cart</h2>
<p>1 &times; Wool coat, &euro; 189.00</p>
<form class="checkout" action="/checkout" method="post">
<label for="coupon">Discount code</label>
<input id="coupon" name="coupon" type="text" value="" autocomplete="off">
<button class="btn" type="submit">Checkout</button>
</form>
</aside>
</main>
<footer>
<div class="cols">
<div><h3>Customer service</h3><ul><li><a href="/help/delivery">Delivery</a></li><li><a href="/help/returns">Returns</a></li><li><a href="/help/payment">Payment</a></li><li><a href="/help/contact">Contact</a></li></ul></div>
<div><h3>About us</h3><ul><li><a href="/about">Our story</a></li><li><a href="/stores">Stores</a></li><li><a href="/jobs">Jobs</a></li><li><a href="/press">Press</a></li></ul></div>
<div><h3>Loyalty</h3><ul><li><a href="/loyalty">Points</a></li><li><a href="/loyalty/rewards">Rewards</a></li><li><a href="/newsletter">Newsletter</a></li></ul></div>
<div><h3>Legal</h3><ul><li><a href="/privacy">Privacy</a></li><li><a href="/cookies">Cookies</a></li><li><a href="/terms">Terms</a></li></ul></div>
</div>
<p>&copy; Northwind Goods. Prices include VAT.</p>
</footer>
<script src="/js/shop.js" defer></script>
<script>window.dataLayer=window.dataLayer||[];window.dataLayer.push({"page":"category","category":"winter"});</script>
</body>
</html>
END

my $out = $head . slot('promo') . "\n" . $menu . $mid;
my $i = 0;

while (length($out) + length($tail) < $size || $i < 8) {
    my $w = $words[$i % @words];
    my $t = $things[($i * 7) % @things];
    my $price = sprintf '%d.%02d', 10 + ($i * 37) % 190, ($i * 13) % 100;
    my $badge = $i % 5 == 0 ? '<span class="badge">New</span> ' : '';
    $out .= qq{<li class="product" data-id="p$i"><a href="/p/$w-$t-$i">}
        . qq{<img src="/img/p$i.jpg" alt="\u$w $t" loading="lazy" width="240" height="160"></a>}
        . qq{<h3>$badge<a href="/p/$w-$t-$i">\u$w $t</a></h3>}
        . qq{<p class="price">&euro; $price</p>}
        . qq{<form action="/cart" method="post"><input type="hidden" name="sku" value="p$i">}
        . qq{<button type="submit">Add to cart</button></form></li>\n};
    $i++;
}

print $out, $tail;
