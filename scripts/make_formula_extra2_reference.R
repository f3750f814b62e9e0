# Reference for tests/test_formula_extra2.py (round 2 differential tests):
# glFormula / glmer, odd column names, NA handling, term-algebra corners, predict(newdata).
#   Rscript scripts/make_formula_extra2_reference.R   (from the repository root)
suppressPackageStartupMessages({ library(lme4); library(jsonlite); library(splines) })
out_dir <- file.path("tests", "reference", "formula_extra2")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

gen <- function() {
  set.seed(77031)
  G <- 12L; m <- 10L; N <- G * m
  g <- factor(sprintf("G%02d", rep(seq_len(G), each = m)))
  h <- rep(c("b", "a"), length.out = N)                       # character
  f <- factor(sample(c("lo", "mid", "hi"), N, TRUE), levels = c("lo", "mid", "hi"))
  f2 <- factor(sample(c("A", "B", "C", "D"), N, TRUE))
  o <- factor(sample(c("S", "M", "L"), N, TRUE), levels = c("S", "M", "L"), ordered = TRUE)
  kc <- factor(sample(c(1, 2, 3, 10), N, TRUE), levels = c("1", "2", "3", "10"))
  x <- round(runif(N, -2, 2), 3)
  xna <- x; xna[c(5L, 33L)] <- NA
  n <- sample(5:20, N, TRUE)
  b <- rnorm(G, 0, 0.8)
  eta <- -0.3 + 0.7 * x + c(0, 0.5, -0.4)[as.integer(f)] + b[as.integer(g)]
  k <- rbinom(N, n, plogis(eta))
  cnt <- rpois(N, n / 5 * exp(0.3 * x + b[as.integer(g)] / 2))
  yb <- rbinom(N, 1, plogis(eta))
  fb <- factor(ifelse(rbinom(N, 1, plogis(eta)) == 1, "yes", "no"), levels = c("no", "yes"))
  flag <- runif(N) < 0.5
  ch <- sample(c("beta", "alpha", "gamma"), N, TRUE)
  chna <- ch; chna[c(7L, 50L)] <- NA
  kna <- k; kna[c(12L, 90L)] <- NA
  flagna <- flag; flagna[c(3L, 100L)] <- NA
  fna <- f; fna[c(14L, 71L)] <- NA
  gna <- g; gna[c(21L, 22L)] <- NA
  w <- round(runif(N, 0.5, 3), 2)
  wna <- w; wna[c(8L, 60L)] <- NA
  nna <- n; nna[c(9L)] <- NA
  y <- round(1 + 0.5 * x + c(0, 0.4, 1)[as.integer(f)] + 0.3 * flag + b[as.integer(g)] + rnorm(N), 3)
  d <- data.frame(g, h, f, f2, o, kc, x, xna, n, k, cnt, yb, fb, flag, ch, chna, kna, flagna,
                  fna, gna, w, wna, nna, y, stringsAsFactors = FALSE)
  d[["größe"]] <- round(rnorm(N, 170, 10), 1)
  d[["温度"]] <- round(rnorm(N, 20, 5), 1)
  d[["total.fruits"]] <- rpois(N, 20)
  d[["my var"]] <- round(rnorm(N), 3)
  d[["2x"]] <- 2 * x
  d[["T"]] <- round(rnorm(N), 3)
  d[["F"]] <- sample(0:3, N, TRUE)
  d[["pi"]] <- round(runif(N, 1, 2), 3)
  d
}

write_dataset <- function(df, name, generator) {
  write.csv(df, file.path(data_dir, paste0(name, ".csv")), row.names = FALSE, fileEncoding = "UTF-8")
  cols <- list()
  for (nm in names(df)) {
    v <- df[[nm]]
    cols[[nm]] <- if (is.ordered(v)) list(type = "ordered", levels = levels(v))
    else if (is.factor(v)) list(type = "factor", levels = levels(v))
    else if (is.logical(v)) list(type = "logical", n_missing = sum(is.na(v)))
    else if (is.integer(v)) list(type = "integer", n_missing = sum(is.na(v)))
    else if (is.numeric(v)) list(type = "numeric", n_missing = sum(is.na(v)))
    else list(type = "character", n_missing = sum(is.na(v)))
  }
  meta <- list(dataset = name, file = paste0(name, ".csv"), nrow = nrow(df), columns = cols,
               generator = paste(deparse(generator), collapse = "\n"))
  writeLines(enc2utf8(toJSON(meta, auto_unbox = TRUE, pretty = TRUE, null = "null")),
             file.path(data_dir, paste0(name, ".columns.json")), useBytes = TRUE)
}
d0 <- gen()
write_dataset(d0, "gx", gen)

load_dataset <- function(name) {
  meta <- fromJSON(file.path(data_dir, paste0(name, ".columns.json")), simplifyVector = FALSE)
  raw <- read.csv(file.path(data_dir, paste0(name, ".csv")), colClasses = "character",
                  na.strings = "NA", check.names = FALSE, encoding = "UTF-8")
  out <- list()
  for (nm in names(meta$columns)) {
    m <- meta$columns[[nm]]; v <- raw[[nm]]
    out[[nm]] <- switch(m$type,
      factor = factor(v, levels = unlist(m$levels)),
      ordered = factor(v, levels = unlist(m$levels), ordered = TRUE),
      logical = as.logical(v), integer = as.integer(v), numeric = as.numeric(v), character = v)
  }
  df <- as.data.frame(out, stringsAsFactors = FALSE, optional = TRUE)
  names(df) <- names(meta$columns)
  df
}
d <- load_dataset("gx")
stopifnot(isTRUE(all.equal(d, d0, check.attributes = FALSE)))

ctrl <- lmerControl(check.nlev.gtreq.5 = "ignore", check.nobs.vs.nRE = "ignore",
                    check.nobs.vs.rankZ = "ignore", check.nobs.vs.nlev = "ignore",
                    check.nlev.gtr.1 = "ignore")
gctrl <- glmerControl(check.nlev.gtreq.5 = "ignore", check.nobs.vs.nRE = "ignore",
                    check.nobs.vs.rankZ = "ignore", check.nobs.vs.nlev = "ignore",
                    check.nlev.gtr.1 = "ignore")

# kind: "lF" (lFormula), "glF" (glFormula, family), "glmer" (fit), "lmer" (fit)
# extra: R argument text appended to the call; py: python kwargs; pyt: python data transform
# nd: newdata builder (R), ndt: python newdata transform name
K <- function(id, formula, kind = "lF", family = "binomial", extra = "", py = list(),
              pyt = NULL, nd = NULL, ndt = NULL, note = "")
  list(id = id, formula = formula, kind = kind, family = family, extra = extra, py = py,
       pyt = pyt, nd = nd, ndt = ndt, note = note)

nd_basic <- function(d) {
  nd <- d[c(1, 2, 15, 40, 77, 118), ]
  nd$x <- c(-3, -2, 0, 0.5, 2, 2.7)
  rownames(nd) <- NULL; nd
}
nd_one <- function(d) { nd <- d[5, ]; nd$x <- 2.5; rownames(nd) <- NULL; nd }
nd_na <- function(d) { nd <- d[c(1, 2, 3, 4), ]; nd$x[2] <- NA; nd$f[3] <- NA; rownames(nd) <- NULL; nd }

cases <- list(
  # ---- 1. GLMM formulas and fits
  K("glF_cbind", "cbind(k, n - k) ~ x + f + (1 | g)", "glF"),
  K("glF_I_logical_resp", "I(k > 2) ~ x + (1 | g)", "glF"),
  K("glF_factor_resp", "fb ~ x + flag + (1 | g)", "glF"),
  K("glF_offset_log", "cnt ~ x + offset(log(n)) + (1 | g)", "glF", family = "poisson"),
  K("glF_weights_col", "k/n ~ x + (1 | g)", "glF", extra = ", weights = n", py = list(weights = "n")),
  K("glF_weights_expr", "cnt ~ x + (1 | g)", "glF", family = "poisson", extra = ", weights = n/10",
    py = list(weights = "n/10")),
  K("glF_offset_arg", "cnt ~ x + (1 | g)", "glF", family = "poisson", extra = ", offset = log(n)",
    py = list(offset = "log(n)")),
  K("glF_offset_both", "cnt ~ x + offset(x/10) + (1 | g)", "glF", family = "poisson",
    extra = ", offset = log(n)", py = list(offset = "log(n)")),
  K("glF_weights_na", "k/n ~ x + (1 | g)", "glF", extra = ", weights = wna", py = list(weights = "wna")),
  K("glF_offset_na", "cnt ~ x + offset(log(nna)) + (1 | g)", "glF", family = "poisson"),
  K("glF_offset_arg_na", "cnt ~ x + (1 | g)", "glF", family = "poisson", extra = ", offset = log(nna)",
    py = list(offset = "log(nna)")),
  K("glF_logical_col_resp", "flag ~ x + (1 | g)", "glF"),
  K("glF_factor3_resp", "f ~ x + (1 | g)", "glF", note = "3-level factor response: binomial treats level 1 as failure"),
  K("glF_cbind_expr", "cbind(k, n - k) ~ poly(x, 2) + (1 | g)", "glF"),
  K("glm_cbind", "cbind(k, n - k) ~ x + f + (1 | g)", "glmer", nd = nd_basic),
  K("glm_I_logical", "I(k > 2) ~ x + flag + (1 | g)", "glmer", nd = nd_basic),
  K("glm_factor_resp", "fb ~ x + f + (1 | g)", "glmer", nd = nd_basic),
  K("glm_pois_offset", "cnt ~ x + offset(log(n)) + (1 | g)", "glmer", family = "poisson", nd = nd_basic),
  K("glm_pois_offset_arg", "cnt ~ x + f + (1 | g)", "glmer", family = "poisson",
    extra = ", offset = log(n)", py = list(offset = "log(n)"), nd = nd_basic),
  K("glm_prop_weights", "k/n ~ x + (1 | g)", "glmer", extra = ", weights = n", py = list(weights = "n"), nd = nd_basic),
  K("glm_pois_weights_expr", "cnt ~ x + (1 | g)", "glmer", family = "poisson", extra = ", weights = n/10",
    py = list(weights = "n/10"), nd = nd_basic),
  K("glm_bin_poly", "yb ~ poly(x, 2) + (1 | g)", "glmer", nd = nd_basic),
  K("glm_pois_ns_f", "cnt ~ ns(x, df = 3) + f + offset(log(n)) + (1 | g)", "glmer", family = "poisson", nd = nd_basic),
  K("glm_pois_uncorr", "cnt ~ x + (x || g)", "glmer", family = "poisson", nd = nd_basic),
  K("glm_cbind_scale", "cbind(k, n - k) ~ scale(x) + o + (1 | g)", "glmer", nd = nd_basic),
  # ---- 2. data types / names
  K("ty_cat_int", "y ~ kc + (1 | g)", pyt = "cat_int"),
  K("ty_cat_int_unordered_cats", "y ~ kc + (1 | g)", pyt = "cat_int_shuffled",
    note = "python categories [10, 3, 1, 2] as given; R factor levels as given (10, 3, 1, 2)"),
  K("ty_ordered", "y ~ o + x + (1 | g)"),
  K("ty_nullable_int", "y ~ kna + (1 | g)", pyt = "nullable"),
  K("ty_nullable_bool", "y ~ flagna + (1 | g)", pyt = "nullable"),
  K("ty_nullable_string", "y ~ chna + (1 | g)", pyt = "nullable"),
  K("ty_nullable_float", "y ~ xna + (1 | g)", pyt = "nullable"),
  K("ty_object_none", "y ~ chna + (1 | g)", pyt = "object_none"),
  K("ty_string_group", "y ~ x + (1 | h)", pyt = "nullable"),
  K("ty_polars", "y ~ x + f + flag + ch + (1 | g)", pyt = "polars"),
  K("ty_polars_na", "y ~ xna + chna + flagna + (1 | g)", pyt = "polars"),
  K("ty_unicode", "y ~ größe + 温度 + (1 | g)"),
  K("ty_unicode_fn", "y ~ log(größe) + I(温度^2) + (1 | g)"),
  K("ty_dotted", "total.fruits ~ x + (1 | g)"),
  K("ty_backquote_space", "y ~ `my var` + (1 | g)"),
  K("ty_backquote_digit", "y ~ `2x` + I(`2x`^2) + (`my var` | g)"),
  K("ty_col_T", "y ~ T + (1 | g)", note = "data column T wins over TRUE"),
  K("ty_col_F_factor", "y ~ factor(F) + (1 | g)"),
  K("ty_col_pi", "y ~ I(2 * pi) + (1 | g)", note = "data column pi wins"),
  K("ty_col_T_in_call", "y ~ I(x * T) + (1 | g)"),
  K("ty_unicode_glmer", "total.fruits ~ `my var` + (1 | g)", "glF", family = "poisson"),
  # ---- 3. NA handling
  K("na_re_lhs_factor", "y ~ x + (0 + fna | g)"),
  K("na_group", "y ~ x + (1 | gna)"),
  K("na_group_nested", "y ~ x + (1 | gna/h)"),
  K("na_weights", "y ~ x + (1 | g)", extra = ", weights = wna", py = list(weights = "wna")),
  K("na_offset", "y ~ x + offset(nna) + (1 | g)"),
  K("na_re_lhs_nan", "y ~ 1 + (log(x) | g)", note = "log of negative x is NaN: rows dropped"),
  K("na_re_lhs_sqrt", "y ~ x + (0 + sqrt(x + 1) | g)"),
  K("na_fail", "y ~ xna + (1 | g)", extra = ", na.action = na.fail", py = list(na_action = "fail")),
  K("na_fail_group", "y ~ x + (1 | gna)", extra = ", na.action = na.fail", py = list(na_action = "fail")),
  K("na_fail_weights", "y ~ x + (1 | g)", extra = ", weights = wna, na.action = na.fail",
    py = list(weights = "wna", na_action = "fail")),
  K("na_fail_clean", "y ~ x + (1 | g)", extra = ", na.action = na.fail", py = list(na_action = "fail")),
  K("na_character_fixed", "y ~ chna + x + (1 | g)"),
  K("na_kna_re", "y ~ 1 + (kna | g)"),
  # ---- 4. term algebra
  K("ta_re_minus1", "y ~ x + (1 | g) - 1"),
  K("ta_minus1_first", "y ~ -1 + x + (1 | g)"),
  K("ta_zero", "y ~ 0 + (1 | g)"),
  K("ta_one", "y ~ 1 + (1 | g)"),
  K("ta_x_minus_x", "y ~ x - x + (1 | g)"),
  K("ta_square_minus", "y ~ (f + x)^2 - f:x + (1 | g)"),
  K("ta_fh_star_m1", "y ~ f * f2 - 1 + (1 | g)"),
  K("ta_fh_colon_m1", "y ~ f:f2 - 1 + (1 | g)"),
  K("ta_xf_m1", "y ~ x:f - 1 + (1 | g)"),
  K("ta_in", "y ~ f %in% f2 + (1 | g)"),
  K("ta_paren_slash_x", "y ~ (f + f2)/x + (1 | g)"),
  K("ta_x_slash_f", "y ~ x/f + (1 | g)"),
  K("ta_dup", "y ~ x + x + (1 | g)"),
  K("ta_f_fx_x", "y ~ f + f:x + x + (1 | g)"),
  K("ta_xx", "y ~ x:x + (1 | g)"),
  K("ta_Ix_f", "y ~ I(x):f + (1 | g)"),
  K("ta_three_one_main", "y ~ f + f:f2:o + (1 | g)"),
  K("ta_three_one_main_b", "y ~ o + f:f2:o + (1 | g)"),
  K("ta_re_two_same", "y ~ x + (1 + x | g) + (0 + f | g)"),
  K("ta_re_ordered", "y ~ x + (o | g)"),
  K("ta_re_fh", "y ~ x + (0 + f:f2 | g)"),
  K("ta_re_dbar_I", "y ~ x + (x + I(x^2) || g)"),
  K("ta_re_nested_strings", "y ~ x + (1 | ch/h)"),
  K("ta_re_colon_strings", "y ~ x + (1 | ch:h)"),
  K("ta_re_nested_g_h", "y ~ x + (1 | g/h)"),
  K("ta_dbar_factor", "y ~ x + (f || g)"),
  K("ta_flag_colon_x_m1", "y ~ 0 + flag:x + (1 | g)"),
  K("ta_power3_minus", "y ~ (f + f2 + flag)^3 - f:f2:flag - f + (1 | g)"),
  K("ta_minus_intercept_re", "y ~ 0 + x + (0 + x | g) + (1 | f)"),
  K("ta_neg_term_absent", "y ~ x - f + (1 | g)"),
  K("ta_paren_sum", "y ~ (x + f) + (1 | g)"),
  K("ta_slash_nested_three", "y ~ f/f2/flag + (1 | g)"),
  K("ta_m1_plus1", "y ~ x - 1 + 1 + (1 | g)"),
  K("ta_x_f_f2_colons", "y ~ x:f + x:f2 + (1 | g)"),
  K("ta_cross_x_x2", "y ~ (x + I(x^2)):f + (1 | g)"),
  # ---- 5. predictions (lmer fits)
  K("pr_factor_strings", "y ~ x + f + flag + (1 | g)", "lmer", nd = nd_basic, ndt = "strings"),
  K("pr_cat_reordered", "y ~ x + f + flag + (1 | g)", "lmer", nd = nd_basic, ndt = "cat_reorder"),
  K("pr_cat_extra", "y ~ x + f + flag + (1 | g)", "lmer", nd = nd_basic, ndt = "cat_extra"),
  K("pr_logical_int", "y ~ x + f + flag + (1 | g)", "lmer", nd = nd_basic, ndt = "logical_int"),
  K("pr_na_rows", "y ~ x + f + flag + (1 | g)", "lmer", nd = nd_na),
  K("pr_one_row", "y ~ x * f + (1 | g)", "lmer", nd = nd_one),
  K("pr_one_row_poly", "y ~ poly(x, 2) + (1 | g)", "lmer", nd = nd_one),
  K("pr_ns_outside", "y ~ ns(x, df = 3) + (1 | g)", "lmer", nd = nd_basic),
  K("pr_bs_outside", "y ~ bs(x, df = 4) + (1 | g)", "lmer", nd = nd_basic),
  K("pr_poly_outside", "y ~ poly(x, 3) + (1 | g)", "lmer", nd = nd_basic),
  K("pr_scale_outside", "y ~ scale(x) + (1 | g)", "lmer", nd = nd_basic),
  K("pr_cut_n", "y ~ cut(x, 3) + (1 | g)", "lmer", nd = function(d) { nd <- d[c(1, 2, 3, 40), ]; rownames(nd) <- NULL; nd },
    note = "cut(x, 3) in newdata is recomputed by R on newdata"),
  K("pr_cut_n_outside", "y ~ cut(x, 3) + (1 | g)", "lmer", nd = nd_basic),
  K("pr_mean_in_I", "y ~ I(x - mean(x)) + (1 | g)", "lmer", nd = nd_basic,
    note = "R evaluates mean(x) on newdata"),
  K("pr_ordered", "y ~ o + x + (1 | g)", "lmer", nd = nd_basic, ndt = "strings"),
  K("pr_char_col", "y ~ ch + x + (1 | g)", "lmer", nd = nd_basic),
  K("pr_unicode", "y ~ größe + `my var` + (1 | g)", "lmer", nd = nd_basic),
  K("pr_offset", "y ~ x + offset(log(n)) + (1 | g)", "lmer", nd = nd_basic),
  K("pr_factor_in_formula", "y ~ factor(F) + x + (1 | g)", "lmer", nd = nd_basic,
    note = "factor(F) on a newdata subset"),
  K("pr_na_ns", "y ~ ns(x, df = 3) + f + (1 | g)", "lmer", nd = nd_na),
  # ---- batch 2
  K("b2_factor3_glmer", "f ~ x + (1 | g)", "glmer", nd = nd_basic, note = "3-level factor response"),
  K("b2_logical_resp_lmer", "I(k > 2) ~ x + (1 | g)"),
  K("b2_factor_resp_lmer", "fb ~ x + (1 | g)"),
  K("b2_flagna_resp", "flagna ~ x + (1 | g)", "glF"),
  K("b2_cbind_na", "cbind(kna, n - kna) ~ x + (1 | g)", "glF"),
  K("b2_cbind_only_int", "cbind(k, n - k) ~ 1 + (1 | g)", "glF"),
  K("b2_resp_eq", "(yb == 1) ~ x + (1 | g)", "glF"),
  K("b2_resp_factor_call", "factor(yb) ~ x + (1 | g)", "glF"),
  K("b2_resp_aslogical", "as.logical(yb) ~ x + (1 | g)", "glF"),
  K("b2_weights_zero", "y ~ x + (1 | g)", extra = ", weights = w * (x > -1.9)", py = list(weights = "w * (x > -1.9)")),
  K("b2_weights_neg", "y ~ x + (1 | g)", extra = ", weights = x", py = list(weights = "x")),
  K("b2_glmer_weights_na_fit", "k/n ~ x + (1 | g)", "glmer", extra = ", weights = nna", py = list(weights = "nna"), nd = nd_basic),
  K("b2_nullable_fn_I", "y ~ I(kna^2) + I(kna > 2) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_factor", "y ~ factor(kna) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_cut", "y ~ cut(kna, 3) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_ifelse", "y ~ ifelse(flagna, 1, 0) + I(flagna & flag) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_str_fns", "y ~ I(chna == \"alpha\") + (1 | g)", pyt = "nullable"),
  K("b2_nullable_ifelse_isna", "y ~ ifelse(is.na(chna), \"none\", chna) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_scale", "y ~ scale(kna) + scale(xna) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_ns", "y ~ ns(xna, 3) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_interaction", "y ~ interaction(chna, f) + (1 | g)", pyt = "nullable"),
  K("b2_nullable_re", "y ~ x + (flagna | chna)", pyt = "nullable"),
  K("b2_nullable_glmer", "cbind(k, n - k) ~ x + (1 | h)", "glF", pyt = "nullable"),
  K("b2_polars_re", "y ~ x + (fna | gna)", pyt = "polars"),
  K("b2_polars_glF", "cbind(kna, n - kna) ~ f + (1 | g)", "glF", pyt = "polars"),
  K("b2_catint_group", "y ~ x + (1 | kc)", pyt = "cat_int_shuffled"),
  K("b2_catint_colon", "y ~ f:kc + (1 | g)", pyt = "cat_int_shuffled"),
  K("b2_catint_factor", "y ~ factor(kc) + (1 | g)", pyt = "cat_int_shuffled"),
  K("b2_catint_asnum", "y ~ as.numeric(kc) + (1 | g)", pyt = "cat_int_shuffled", note = "level codes"),
  K("b2_catint_ascharnum", "y ~ as.numeric(as.character(kc)) + (1 | g)", pyt = "cat_int"),
  K("b2_catint_relevel", "y ~ relevel(kc, ref = \"3\") + (1 | g)", pyt = "cat_int"),
  K("b2_catint_eq", "y ~ I(kc == 10) + (1 | g)", pyt = "cat_int"),
  K("b2_group_int", "y ~ x + (1 | F)"),
  K("b2_group_logical", "y ~ x + (1 | flag)"),
  K("b2_group_num", "y ~ x + (1 | n)"),
  K("b2_group_backquote", "y ~ x + (1 | `F`) + (1 | `total.fruits`)"),
  K("b2_re_ordered_zero", "y ~ x + (0 + o | g)"),
  K("b2_re_f_minus1", "y ~ x + (f - 1 | g)"),
  K("b2_re_zero_f_x", "y ~ x + (0 + f + x | g)"),
  K("b2_re_fx", "y ~ x + (f:x | g)"),
  K("b2_re_dup", "y ~ x + (1 | g) + (1 | g)"),
  K("b2_re_dbar_nested", "y ~ x + (x || g/h)"),
  K("b2_re_three_colon", "y ~ x + (1 | g:h:f)"),
  K("b2_re_dbar_ordered", "y ~ x + (o || g)"),
  K("b2_re_dbar_flag", "y ~ x + (1 + flag || g)"),
  K("b2_re_dbar_x_f", "y ~ x + (x + f || g)"),
  K("b2_re_crossed_order", "y ~ x + (1 | h) + (1 | g) + (1 | f2)"),
  K("b2_re_I_group", "y ~ x + (1 | interaction(g, h))"),
  K("b2_re_factor_group_expr", "y ~ x + (1 | factor(F > 1))"),
  K("b2_ta_pow1", "y ~ (f + f2)^1 + (1 | g)"),
  K("b2_ta_f_pow2", "y ~ f^2 + (1 | g)"),
  K("b2_ta_x_times_x", "y ~ x * x + (1 | g)"),
  K("b2_ta_paren_x", "y ~ ((x)) + (x) + (1 | g)"),
  K("b2_ta_Ix_x", "y ~ I(x) + x + (1 | g)"),
  K("b2_ta_minus1_only", "y ~ -1 + (1 | g)"),
  K("b2_ta_one_minus_one", "y ~ 1 - 1 + x + (1 | g)"),
  K("b2_ta_f_m1_x", "y ~ f - 1 + x + (1 | g)"),
  K("b2_ta_x_in_f_m1", "y ~ x %in% f - 1 + (1 | g)"),
  K("b2_ta_fx_minus_x", "y ~ f:x - x + (1 | g)"),
  K("b2_ta_sq_m1_mf", "y ~ (f + x)^2 - 1 - f + (1 | g)"),
  K("b2_ta_fo_m1", "y ~ f * o - 1 + (1 | g)"),
  K("b2_ta_zero_ox", "y ~ 0 + o:x + (1 | g)"),
  K("b2_ta_zero_flag_f", "y ~ 0 + flag + f + (1 | g)"),
  K("b2_ta_f2f_ff2", "y ~ f2:f + f:f2 + (1 | g)"),
  K("b2_ta_x_in_x", "y ~ x %in% x + (1 | g)"),
  K("b2_ta_offset_m1", "y ~ offset(x) - 1 + (1 | g)"),
  K("b2_ta_neg_first", "y ~ -x + f + (1 | g)"),
  K("b2_ta_three_way_nomain", "y ~ f:f2:flag + f2 + (1 | g)"),
  K("b2_ta_slash_x_m1", "y ~ f/x - 1 + (1 | g)"),
  K("b2_ta_T_colon_f", "y ~ T:f + `my var`:F + (1 | g)"),
  K("b2_ta_pow_frac", "y ~ (f + x)^1.5 + (1 | g)"),
  K("b2_ta_pow_zero", "y ~ (f + x)^0 + (1 | g)"),
  K("b2_ta_true_term", "y ~ TRUE + (1 | g)"),
  K("b2_ta_number_term", "y ~ 2 + x + (1 | g)"),
  K("b2_ta_dot_minus", "y ~ x + (1 | g) - x"),
  # predictions batch 2
  K("b2_pr_new_level", "y ~ x + f + (1 | g)", "lmer", nd = nd_basic, ndt = "new_level"),
  K("b2_pr_missing_col", "y ~ x + f + (1 | g)", "lmer", nd = nd_basic, ndt = "drop_f"),
  K("b2_pr_nullable", "y ~ x + f + flag + kna + (1 | g)", "lmer", nd = nd_basic, ndt = "nullable"),
  K("b2_pr_polars", "y ~ x + f + flag + ch + (1 | g)", "lmer", nd = nd_basic, ndt = "polars"),
  K("b2_pr_ch_categorical", "y ~ ch + x + (1 | g)", "lmer", nd = nd_basic, ndt = "ch_cat"),
  K("b2_pr_x_object", "y ~ poly(x, 2) + f + (1 | g)", "lmer", nd = nd_basic, ndt = "x_int_object"),
  K("b2_pr_catint", "y ~ kc + x + (1 | g)", "lmer", pyt = "cat_int", nd = nd_basic, ndt = "kc_int"),
  K("b2_pr_one_row_na", "y ~ poly(x, 2) + (1 | g)", "lmer", nd = function(d) { nd <- d[5, ]; nd$x <- NA; rownames(nd) <- NULL; nd }),
  K("b2_pr_offset_na", "y ~ x + offset(log(nna)) + (1 | g)", "lmer", nd = function(d) { nd <- d[c(1, 9, 10), ]; rownames(nd) <- NULL; nd }),
  K("b2_pr_glmer_response", "cbind(k, n - k) ~ x + f + (1 | g)", "glmer", nd = nd_basic, ndt = "type_response"),
  K("b2_pr_zero_rows", "y ~ x + f + (1 | g)", "lmer", nd = function(d) d[integer(0), ]),
  K("b2_pr_ordered_new", "y ~ o + x + (1 | g)", "lmer", nd = nd_basic, ndt = "o_unordered_cat"),
  K("b2_pr_logical_strings", "y ~ flag + x + (1 | g)", "lmer", nd = nd_basic, ndt = "flag_strings"),
  K("b2_pr_interaction", "y ~ interaction(f, flag) + (1 | g)", "lmer", nd = nd_basic),
  K("b2_pr_factor_num", "y ~ factor(F) + (1 | g)", "lmer", nd = function(d) { nd <- d[1:6, ]; nd$F <- c(0L, 1L, 1L, 1L, 3L, 3L); rownames(nd) <- NULL; nd }),
  K("b2_pr_unicode_nd", "y ~ ns(größe, 3) + `2x` + (1 | g)", "lmer", nd = nd_basic)
)


num2str <- function(v) {
  v <- as.numeric(v); s <- sprintf("%.17g", v)
  s[is.nan(v)] <- "NaN"; s[is.na(v) & !is.nan(v)] <- "NA"
  s[is.infinite(v) & v > 0] <- "Inf"; s[is.infinite(v) & v < 0] <- "-Inf"; s
}
mat2rows <- function(M) lapply(seq_len(nrow(M)), function(i) num2str(M[i, ]))
run_quiet <- function(expr) {
  msgs <- character(); warns <- character()
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(msg = conditionMessage(e)), class = "caught_error")),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  list(value = val, messages = msgs, warnings = warns)
}
records <- function(nd) lapply(seq_len(nrow(nd)), function(i) {
  r <- list()
  for (nm in names(nd)) {
    v <- nd[[nm]][i]
    r[[nm]] <- if (is.na(v)) NA else if (is.factor(v)) as.character(v) else if (is.logical(v)) v
               else if (is.numeric(v)) num2str(v) else as.character(v)
  }
  r
})

d_variant <- function(cs, d) {
  if (identical(cs$pyt, "cat_int_shuffled")) d$kc <- factor(as.character(d$kc), levels = c("10", "3", "1", "2"))
  d
}

results <- list()
for (cs in cases) {
  dd <- d_variant(cs, d)
  fam <- if (cs$family == "binomial") "binomial" else cs$family
  call_txt <- switch(cs$kind,
    lF = sprintf("lFormula(%s, data = dd, control = ctrl%s)", cs$formula, cs$extra),
    glF = sprintf("glFormula(%s, data = dd, family = %s, control = gctrl%s)", cs$formula, fam, cs$extra),
    lmer = sprintf("lFormula(%s, data = dd, control = ctrl%s)", cs$formula, cs$extra),
    glmer = sprintf("glFormula(%s, data = dd, family = %s, control = gctrl%s)", cs$formula, fam, cs$extra))
  r <- run_quiet(eval(parse(text = call_txt, encoding = "UTF-8")))
  out <- list(id = cs$id, kind = cs$kind, formula = cs$formula, family = fam, r_call = call_txt,
              py = cs$py, pyt = cs$pyt, ndt = cs$ndt, note = cs$note,
              messages = r$messages, warnings = r$warnings)
  if (inherits(r$value, "caught_error")) {
    out$error <- r$value$msg
  } else {
    lf <- r$value; X <- lf$X
    out$X_colnames <- colnames(X)
    out$X <- mat2rows(X)
    out$rows <- as.integer(rownames(lf$fr))
    y <- model.response(lf$fr)
    if (is.factor(y)) { out$y_factor_levels <- levels(y); y <- as.integer(y) - 1L }
    out$y_is_matrix <- is.matrix(y)
    out$y <- if (is.matrix(y)) mat2rows(y) else num2str(y)
    off <- model.offset(lf$fr)
    out$offset <- if (is.null(off)) NULL else num2str(off)
    wt <- model.weights(lf$fr)
    out$weights <- if (is.null(wt)) NULL else num2str(wt)
    out$Zt_dim <- dim(lf$reTrms$Zt)
    out$cnms <- lapply(seq_along(lf$reTrms$cnms), function(i)
      list(grp = names(lf$reTrms$cnms)[i], columns = lf$reTrms$cnms[[i]]))
    Zt <- as(lf$reTrms$Zt, "TsparseMatrix")
    out$Zt_i <- Zt@i; out$Zt_j <- Zt@j; out$Zt_x <- num2str(Zt@x)
    out$flist_levels <- lapply(lf$reTrms$flist, levels)
    out$spline <- grepl("\\b(ns|bs)\\(", cs$formula)
  }
  if (cs$kind %in% c("lmer", "glmer")) {
    fit_txt <- if (cs$kind == "lmer")
      sprintf("lmer(%s, data = dd, control = ctrl%s)", cs$formula, cs$extra)
    else sprintf("glmer(%s, data = dd, family = %s, control = gctrl%s)", cs$formula, fam, cs$extra)
    fr <- run_quiet(eval(parse(text = fit_txt, encoding = "UTF-8")))
    m <- fr$value
    if (inherits(m, "caught_error")) out$fit <- list(error = m$msg) else {
      nd <- cs$nd(dd)
      p <- run_quiet(predict(m, newdata = nd, re.form = NA, type = if (identical(cs$ndt, "type_response")) "response" else "link"))$value
      out$fit <- list(r_call = fit_txt,
        crit = num2str(if (cs$kind == "lmer") REMLcrit(m) else -2 * as.numeric(logLik(m))),
        fixef_names = names(fixef(m)), fixef = num2str(fixef(m)), warnings = fr$warnings,
        newdata = records(nd),
        predict = if (inherits(p, "caught_error")) list(error = p$msg) else num2str(p))
    }
  }
  results[[length(results) + 1]] <- out
}
meta <- list(generated_by = "scripts/make_formula_extra2_reference.R",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4"))),
  cases = results)
writeLines(enc2utf8(toJSON(meta, auto_unbox = TRUE, null = "null", pretty = FALSE, digits = NA)),
           file.path(out_dir, "cases.json"), useBytes = TRUE)
cat(length(results), "cases written\n")
for (o in results) if (!is.null(o[["error"]])) cat("ERROR", o$id, ":", o[["error"]], "\n")
for (o in results) if (is.list(o$fit) && !is.null(o$fit$error)) cat("FITERROR", o$id, ":", o$fit$error, "\n")
for (o in results) if (is.list(o$fit) && is.list(o$fit$predict)) cat("PREDERROR", o$id, ":", o$fit$predict$error, "\n")
