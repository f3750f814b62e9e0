# Reference for tests/test_formula_extra.py: extra lme4::lFormula / lmer cases (nested and
# combined functions, interactions of transforms, contrasts, random-term left sides, errors).
#
#   Rscript scripts/make_formula_extra_reference.R   (run from the repository root)
#
# Writes tests/reference/formula_extra/data/fxsim.{csv,columns.json} (simulated) and
# tests/reference/formula_extra/cases.json.  The other data sets are copies of
# tests/reference/formula/data/.  Every data set is read back from its CSV with the types
# of its columns.json, so R and pylmer see identical data.
#
# Numbers in cases.json are strings "%.17g" (exact doubles; "NA", "NaN", "Inf", "-Inf").
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
  library(splines)
})

out_dir <- file.path("tests", "reference", "formula_extra")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)

# ---------------------------------------------------------------------------------------
# simulated data
fxsim_generator <- function() {
  set.seed(20240611)
  G <- 15L; m <- 10L; N <- G * m
  g <- factor(sprintf("G%02d", rep(seq_len(G), each = m)))
  sub <- factor(rep(c("a", "b"), length.out = N))
  week <- rep(seq_len(m), G)
  f <- factor(sample(c("lo", "mid", "hi"), N, TRUE), levels = c("lo", "mid", "hi"))
  h <- factor(sample(c("B", "A", "C"), N, TRUE))
  o <- factor(sample(c("S", "M", "L"), N, TRUE), levels = c("S", "M", "L"), ordered = TRUE)
  fu <- factor(sample(c("p", "q"), N, TRUE), levels = c("p", "q", "r"))
  x <- round(rexp(N, 0.3), 3)
  x[c(3L, 17L)] <- 0
  x[40L] <- -0.5
  x[c(60L, 61L)] <- NA
  z <- round(rnorm(N), 3)
  w <- round(exp(rnorm(N, 4, 3)), 4)
  w <- pmin(pmax(w, 0.0002), 9e5)
  sp.len <- round(runif(N, 1, 3), 2)
  k <- sample(0:5, N, TRUE)
  n <- sample(5:40, N, TRUE)
  flag <- runif(N) < 0.5
  ch <- sample(c("beta", "alpha", "gamma"), N, TRUE)
  b <- rnorm(G, 0, 1.2)
  y <- round(2 + 0.5 * z - 0.3 * z^2 + c(0, 0.4, 1)[as.integer(f)] + 0.5 * flag +
               0.2 * log(n) + 0.1 * week + b[as.integer(g)] + rnorm(N), 3)
  y[c(10L, 99L)] <- NA
  data.frame(g, sub, week, f, h, o, fu, x, z, w, sp.len, k, n, flag, ch, y,
             stringsAsFactors = FALSE)
}

write_dataset <- function(df, name, source, generator = NULL) {
  write.csv(df, file.path(data_dir, paste0(name, ".csv")), row.names = FALSE)
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
  meta <- list(dataset = name, file = paste0(name, ".csv"), source = source,
               nrow = nrow(df), ncol = ncol(df), columns = cols,
               csv_roundtrip_exact = TRUE,
               notes = c("Same conventions as tests/reference/formula/data."),
               generator = if (is.null(generator)) NULL else paste(deparse(generator), collapse = "\n"))
  writeLines(toJSON(meta, auto_unbox = TRUE, pretty = TRUE, null = "null"),
             file.path(data_dir, paste0(name, ".columns.json")))
}

fx <- fxsim_generator()
write_dataset(fx, "fxsim", "simulated (generator below)", fxsim_generator)

load_dataset <- function(name) {
  meta <- fromJSON(file.path(data_dir, paste0(name, ".columns.json")), simplifyVector = FALSE)
  raw <- read.csv(file.path(data_dir, paste0(name, ".csv")), colClasses = "character",
                  na.strings = "NA", check.names = FALSE)
  out <- list()
  for (nm in names(meta$columns)) {
    m <- meta$columns[[nm]]
    v <- raw[[nm]]
    out[[nm]] <- switch(m$type,
      factor = factor(v, levels = unlist(m$levels)),
      ordered = factor(v, levels = unlist(m$levels), ordered = TRUE),
      logical = as.logical(v),
      integer = as.integer(v),
      numeric = as.numeric(v),
      character = v)
  }
  df <- as.data.frame(out, stringsAsFactors = FALSE, optional = TRUE)
  names(df) <- names(meta$columns)
  df
}

datasets <- list()
for (nm in c("fxsim", "formsim", "sleepstudy", "cake", "Orthodont", "cbpp"))
  datasets[[nm]] <- load_dataset(nm)
stopifnot(isTRUE(all.equal(datasets$fxsim, fx, check.attributes = FALSE)))

# ---------------------------------------------------------------------------------------
# cases: list(id, dataset, formula, contrasts = NULL, fit = FALSE, newdata = function(d))
mkcase <- function(id, formula, dataset = "fxsim", contrasts = NULL, fit = FALSE, newdata = NULL,
              note = "")
  list(id = id, formula = formula, dataset = dataset, contrasts = contrasts, fit = fit,
       newdata = newdata, note = note)

nd_fx <- function(d) {  # a few rows, z and week outside the training range
  nd <- d[c(1, 2, 5, 8, 13, 21), ]
  nd$z <- c(-4.5, -2.2, 0, 0.7, 3.1, 5)
  nd$week <- c(0L, 1L, 5L, 10L, 12L, 3L)
  nd$y <- NULL
  rownames(nd) <- NULL
  nd
}

cases <- list(
  mkcase("nest_log_sqrt_abs", "y ~ log(sqrt(abs(z)) + 1) + (1 | g)"),
  mkcase("nest_factor_cut", "y ~ factor(cut(z, 3)) + (1 | g)"),
  mkcase("nest_I_ifelse_sq", "y ~ I(ifelse(z > 0, z, 0)^2) + (1 | g)"),
  mkcase("nest_asnum_factor_x", "y ~ as.numeric(f) * z + (1 | g)"),
  mkcase("nest_relevel_factor", "y ~ relevel(factor(k), ref = \"2\") + (1 | g)", fit = TRUE,
    newdata = function(d) { nd <- d[1:12, ]; nd$y <- NULL; rownames(nd) <- NULL; nd }),
  mkcase("poly_times_factor", "y ~ poly(z, 2) * f + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("ns_colon_logical", "y ~ ns(z, 3):flag + (1 | g)"),
  mkcase("scale_colon_factor", "y ~ scale(z):f + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("three_way_colon", "y ~ f:h:flag + (1 | g)"),
  mkcase("num_colon_num", "y ~ z:week + (1 | g)"),
  mkcase("cube_three_factors", "y ~ (f + h + flag)^3 + (1 | g)"),
  mkcase("slash_factor_num", "y ~ f/z + (1 | g)"),
  mkcase("slash_factor_factor", "y ~ f/h + (1 | g)"),
  mkcase("in_num_factor", "y ~ z %in% f + (1 | g)"),
  mkcase("star_minus_main", "y ~ f * h - f + (1 | g)"),
  mkcase("zero_colon_fx", "y ~ 0 + f:z + (1 | g)"),
  mkcase("zero_full_interaction", "y ~ 0 + f + h + f:h + (1 | g)"),
  mkcase("minus1_colon_xf", "y ~ -1 + z:f + (1 | g)"),
  mkcase("f_plus_fh_no_h", "y ~ f + f:h + (1 | g)"),
  mkcase("x_xf_f_order", "y ~ z + z:f + f + (1 | g)"),
  mkcase("ordered_colon_factor", "y ~ o:f + (1 | g)"),
  mkcase("ordered_times_num", "y ~ o * z + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("C_helmert", "y ~ C(f, contr.helmert) + (1 | g)"),
  mkcase("C_treatment_base2", "y ~ C(f, contr.treatment, base = 2) + (1 | g)"),
  mkcase("C_ordered_treatment", "y ~ C(o, contr.treatment) + (1 | g)"),
  mkcase("contrasts_arg_two", "y ~ f + h + (1 | g)",
    contrasts = list(f = "contr.sum", h = "contr.helmert")),
  mkcase("contrasts_arg_interaction", "y ~ f * h + z + (1 | g)",
    contrasts = list(f = "contr.sum", h = "contr.helmert")),
  mkcase("interaction_sep", "y ~ interaction(f, h, sep = \"_\") + (1 | g)"),
  mkcase("interaction_lex", "y ~ interaction(f, h, lex.order = TRUE) + (1 | g)"),
  mkcase("cut_right_false_lowest", "y ~ cut(z, breaks = c(-2, 0, 2), right = FALSE, include.lowest = TRUE) + (1 | g)"),
  mkcase("cut_labels_false", "y ~ cut(z, 4, labels = FALSE) + (1 | g)"),
  mkcase("cut_label_format", "y ~ cut(w, breaks = c(0, 0.001, 1000, 1e6)) + (1 | g)"),
  mkcase("cut_dig_lab", "y ~ cut(w, breaks = c(0, 12.345678, 250.5, 1e6), dig.lab = 5) + (1 | g)"),
  mkcase("factor_labels", "y ~ factor(z > 0, labels = c(\"neg\", \"pos\")) + (1 | g)"),
  mkcase("factor_levels_subset", "y ~ factor(k, levels = c(5, 3, 1)) + (1 | g)"),
  mkcase("as_logical_int", "y ~ as.logical(k) + (1 | g)"),
  mkcase("pmin_three", "y ~ pmin(z, week, 1) + (1 | g)"),
  mkcase("round_floor", "y ~ round(z, 1) + floor(z) + (1 | g)"),
  mkcase("log_bases", "y ~ log(n, base = 2) + log(n, 10) + (1 | g)"),
  mkcase("mod_intdiv_I", "y ~ I(week %% 3) + I(week %/% 2) + (1 | g)"),
  mkcase("mod_bare", "y ~ week %% 3 + (1 | g)"),
  mkcase("I_in_set", "y ~ I(k %in% c(1, 2)) + (1 | g)"),
  mkcase("I_eq_string", "y ~ I(f == \"lo\") + (1 | g)"),
  mkcase("not_logical", "y ~ !flag + (1 | g)"),
  mkcase("not_logical_paren", "y ~ (!flag) + (1 | g)"),
  mkcase("not_logical_last", "y ~ z + (1 | g) + !flag"),
  mkcase("log_nan_dropped", "y ~ log(x + 0.4) + (1 | g)", note = "log(-0.1) = NaN: the row is dropped"),
  mkcase("character_col", "y ~ ch + (1 | g)"),
  mkcase("bs_knots", "y ~ bs(z, knots = c(-1, 0, 1)) + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("ns_knots_boundary", "y ~ ns(z, knots = 0, Boundary.knots = c(-3, 3)) + (1 | g)",
    fit = TRUE, newdata = nd_fx),
  mkcase("bs_degree1", "y ~ bs(z, degree = 1, df = 3) + (1 | g)"),
  mkcase("poly_raw3", "y ~ poly(z, 3, raw = TRUE) + (1 | g)"),
  mkcase("poly_week4", "y ~ poly(week, 4) + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("re_zero_factor", "y ~ z + (0 + f | g)"),
  mkcase("re_logical", "y ~ z + (1 + flag | g)"),
  mkcase("re_poly_double_bar", "y ~ z + (poly(z, 2) || g)"),
  mkcase("re_ns", "y ~ z + (0 + ns(z, 2) | g)"),
  mkcase("re_colon_factors", "y ~ z + (f:h | g)"),
  mkcase("resp_log", "log(y + 10) ~ z + (1 | g)"),
  mkcase("resp_sqrt_abs", "sqrt(abs(y)) ~ z + (1 | g)"),
  mkcase("two_offsets", "y ~ z + offset(log(n)) + offset(z) + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("log_nonpositive", "y ~ log(x) + (1 | g)", note = "log(0) = -Inf is kept, log(-0.5) = NaN is dropped"),
  mkcase("sqrt_negative", "y ~ sqrt(z) + (1 | g)"),
  mkcase("nested_groups", "y ~ z + (1 | g/sub)"),
  mkcase("colon_group_plus", "y ~ z + (1 | g:sub) + (1 | g)"),
  mkcase("unused_level", "y ~ fu + (1 | g)"),
  mkcase("factor_char_levels", "y ~ factor(ch, levels = c(\"gamma\", \"alpha\", \"beta\")) + (1 | g)"),
  mkcase("ordered_k_colon_z", "y ~ ordered(k):z + (1 | g)"),
  mkcase("poly_raw_colon_factor", "y ~ poly(z, degree = 2, raw = TRUE):f + (1 | g)"),
  mkcase("exp_gauss_I_cube", "y ~ exp(-z^2/2) + I(z^3) + (1 | g)"),
  mkcase("triple_star", "y ~ z * flag * f + (1 | g)"),
  mkcase("square_minus", "y ~ (z + week)^2 - z:week + (1 | g)"),
  mkcase("dotted_name", "y ~ sp.len + I(sp.len^2) + (1 | g)"),
  mkcase("num_factor_colon_numflag", "y ~ f:as.numeric(flag) + (1 | g)"),
  mkcase("na_random_slope", "y ~ 1 + (x | g)"),
  mkcase("ns_with_na", "y ~ ns(x, 3) + (1 | g)"),
  mkcase("cut_outside_na", "y ~ cut(z, breaks = c(-1, 0, 1)) + (1 | g)"),
  mkcase("I_logical_product", "y ~ I(z > 0) * I(week > 5) + (1 | g)"),
  mkcase("factor_eq_mod", "y ~ factor(week %% 2 == 0) + (1 | g)"),
  mkcase("interaction_logical", "y ~ interaction(f, flag) + (1 | g)"),
  mkcase("scale_args", "y ~ scale(z, center = FALSE) + scale(week, scale = FALSE) + (1 | g)"),
  mkcase("pmax_colon_factor", "y ~ pmax(z, 0):f + (1 | g)"),
  mkcase("log_base_e", "y ~ log(x + 1, base = exp(1)) + (1 | g)"),
  mkcase("factor_round", "y ~ factor(round(z)) + (1 | g)"),
  mkcase("as_integer_neg", "y ~ as.integer(z) + (1 | g)"),
  mkcase("aliased_I", "y ~ I(1/n) + I(2/n) + (1 | g)"),
  mkcase("trunc_sign_ceiling", "y ~ trunc(z) + sign(z) + ceiling(z) + (1 | g)"),
  mkcase("factor_relabel_order", "y ~ factor(f, levels = c(\"hi\", \"lo\", \"mid\")) + (1 | g)"),
  mkcase("relevel_positional", "y ~ relevel(f, \"hi\") + (1 | g)"),
  mkcase("colon3_no_main", "y ~ z:f:flag + (1 | g)"),
  mkcase("intercept_only", "y ~ 1 + (1 | g)"),
  mkcase("zero_num_only", "y ~ 0 + z + (1 | g)"),
  mkcase("in_factor_factor", "y ~ h %in% f + (1 | g)"),
  mkcase("minus1_h_colon_f", "y ~ f - 1 + h:f + (1 | g)"),
  mkcase("droplevels_fu", "y ~ droplevels(fu) + (1 | g)"),
  mkcase("scale_in_I", "y ~ I(scale(z)^2) + (1 | g)"),
  mkcase("poly_of_expr", "y ~ poly(z + week, 2) + (1 | g)"),
  mkcase("ns_interaction_factor", "y ~ ns(z, df = 2) * f + (1 | g)"),
  mkcase("relevel_ordered_err", "y ~ relevel(o, ref = \"M\") + (1 | g)", note = "relevel() of an ordered factor is an error in R"),
  # --- round 2: more hostile combinations
  mkcase("f_colon_two_nums", "y ~ f:z + f:week + (1 | g)"),
  mkcase("hf_label_order", "y ~ h:f + f + (1 | g)"),
  mkcase("f_plus_hfflag", "y ~ f + h:f:flag + (1 | g)"),
  mkcase("square_minus1", "y ~ (f + z)^2 - 1 + (1 | g)"),
  mkcase("zero_fh", "y ~ 0 + f:h + (1 | g)"),
  mkcase("zero_flag", "y ~ 0 + flag + (1 | g)"),
  mkcase("zero_ordered", "y ~ 0 + o + (1 | g)"),
  mkcase("zero_z_f", "y ~ 0 + z + f + (1 | g)"),
  mkcase("zero_zf_f", "y ~ 0 + z:f + f + (1 | g)"),
  mkcase("factor_k_colon_flag", "y ~ factor(k):flag + (1 | g)"),
  mkcase("as_factor_flag", "y ~ as.factor(flag) + (1 | g)"),
  mkcase("ordered_of_factor", "y ~ ordered(f) + (1 | g)"),
  mkcase("factor_unorder", "y ~ factor(o, ordered = FALSE) + (1 | g)"),
  mkcase("as_character_int", "y ~ as.character(week) + (1 | g)"),
  mkcase("eq_bare", "y ~ ch == \"alpha\" + (1 | g)"),
  mkcase("gt_bare", "y ~ z > 0 + (1 | g)"),
  mkcase("gt_bare_paren", "y ~ (z > 0) + (1 | g)"),
  mkcase("dup_terms", "y ~ z + z + f:flag + flag:f + (1 | g)"),
  mkcase("exp_minus1", "y ~ exp(z) - 1 + (1 | g)"),
  mkcase("re_minus1_lhs", "y ~ z + (z - 1 | g)"),
  mkcase("re_two_same_group", "y ~ z + (1 | g) + (0 + z | g)"),
  mkcase("re_factor_group", "y ~ z + (1 + z | g) + (1 | f)"),
  mkcase("re_fh_group", "y ~ z + (1 | f:h)"),
  mkcase("re_interaction_group", "y ~ z + (1 | interaction(f, h))"),
  mkcase("re_factor_k_group", "y ~ z + (1 | factor(k))"),
  mkcase("re_flag_gsub", "y ~ z + (flag | g:sub)"),
  mkcase("re_ordered_group", "y ~ z + (1 | o)"),
  mkcase("cut_inf", "y ~ cut(z, c(-Inf, -1, 1, Inf)) + (1 | g)"),
  mkcase("cut_small_big", "y ~ cut(w, c(0, 1e-4, 1, 1e5, 1e6)) + (1 | g)"),
  mkcase("cut_n_diglab1", "y ~ cut(z, 3, dig.lab = 1) + (1 | g)"),
  mkcase("cut_ordered_result", "y ~ cut(week, c(0, 3.5, 7.25, 10), ordered_result = TRUE) + (1 | g)"),
  mkcase("cut_quantile", "y ~ cut(z, quantile(z, 0:4/4), include.lowest = TRUE) + (1 | g)"),
  mkcase("factor_w_labels", "y ~ factor(round(w, -2)) + (1 | g)"),
  mkcase("factor_thirds", "y ~ factor(round(z) / 3) + (1 | g)"),
  mkcase("factor_x_na", "y ~ factor(x > 5) + (1 | g)"),
  mkcase("interaction_f_o", "y ~ interaction(f, o) + (1 | g)"),
  mkcase("interaction_drop", "y ~ interaction(f, h, drop = TRUE) + (1 | g)"),
  mkcase("f_colon_o", "y ~ f:o + (1 | g)"),
  mkcase("o_plus_oz", "y ~ o + o:z + (1 | g)"),
  mkcase("ifelse_logical_cond", "y ~ ifelse(flag, z, -z) + (1 | g)"),
  mkcase("ifelse_nested_char", "y ~ ifelse(k > 2, \"big\", ifelse(k > 0, \"mid\", \"zero\")) + (1 | g)"),
  mkcase("ifelse_isna", "y ~ ifelse(is.na(x), 0, x) + (1 | g)"),
  mkcase("isna_bare", "y ~ is.na(x) + (1 | g)"),
  mkcase("I_gt_na", "y ~ I(x > 3) + (1 | g)"),
  mkcase("mean_na_narm", "y ~ I(z - mean(x, na.rm = TRUE)) + (1 | g)"),
  mkcase("mean_na_all_dropped", "y ~ I(z - mean(x)) + (1 | g)"),
  mkcase("poly_colon_poly", "y ~ poly(z, 2):poly(week, 2) + (1 | g)"),
  mkcase("ns_colon_factor", "y ~ ns(z, 2):f + (1 | g)"),
  mkcase("bs_times_flag", "y ~ bs(z, 3) * flag + (1 | g)"),
  mkcase("poly_two_vars", "y ~ poly(z, week, degree = 2) + (1 | g)"),
  mkcase("cbind_term", "y ~ cbind(z, week) + (1 | g)"),
  mkcase("C_sum_howmany", "y ~ C(h, contr.sum, 1) + (1 | g)"),
  mkcase("C_name_sum", "y ~ C(f, sum) + (1 | g)"),
  mkcase("C_string", "y ~ C(f, \"contr.sum\") + (1 | g)"),
  mkcase("C_poly_unordered", "y ~ C(h, contr.poly) + (1 | g)"),
  mkcase("C_sum_ordered", "y ~ C(o, contr.sum) + (1 | g)"),
  mkcase("C_logical", "y ~ C(flag, contr.sum) + (1 | g)"),
  mkcase("contrasts_ordered_treat", "y ~ o + (1 | g)", contrasts = list(o = "contr.treatment")),
  mkcase("contrasts_absent_var", "y ~ f + (1 | g)", contrasts = list(h = "contr.sum")),
  mkcase("contrasts_logical", "y ~ flag + (1 | g)", contrasts = list(flag = "contr.sum")),
  mkcase("contrasts_character", "y ~ ch + (1 | g)", contrasts = list(ch = "contr.helmert")),
  mkcase("contrasts_SAS", "y ~ f * z + (1 | g)", contrasts = list(f = "contr.SAS")),
  mkcase("contrasts_poly_unordered", "y ~ h + (1 | g)", contrasts = list(h = "contr.poly")),
  mkcase("contrasts_re_lhs", "y ~ z + (f | g)", contrasts = list(f = "contr.sum")),
  mkcase("relevel_character", "y ~ relevel(ch, ref = \"gamma\") + (1 | g)"),
  mkcase("relevel_interaction", "y ~ relevel(interaction(f, flag), ref = \"mid.TRUE\") + (1 | g)"),
  mkcase("factor_labels_relabel", "y ~ factor(f, labels = c(\"L\", \"M\", \"H\")) + (1 | g)"),
  mkcase("factor_single_label", "y ~ factor(k, labels = \"k\") + (1 | g)"),
  mkcase("factor_exclude", "y ~ factor(k, exclude = 0) + (1 | g)"),
  mkcase("as_numeric_char_err", "y ~ as.numeric(ch) + (1 | g)"),
  mkcase("as_integer_flag_asnum_o", "y ~ as.integer(flag) + as.numeric(o) + (1 | g)"),
  mkcase("I_logical_arith", "y ~ I(z * (z > 0)) + I(flag + 0) + (1 | g)"),
  mkcase("unary_minus_prec", "y ~ I(-week %/% 3) + I(-z^2) + I(-week %% 3) + (1 | g)"),
  mkcase("mod_negative", "y ~ I(week %% -3) + I(z %% 1) + I(-z %/% 0.5) + (1 | g)"),
  mkcase("pow_forms", "y ~ I(2^week) + I(week^0.5) + I(2^-1 * z) + (1 | g)"),
  mkcase("pow_nan_dropped", "y ~ I((z - 1)^0.5) + (1 | g)"),
  mkcase("literal_deparse", "y ~ I(n/1e5) + I(z * 1e-3) + I(week * 100000) + (1 | g)"),
  mkcase("literal_int_L", "y ~ I(z + 1L) + I(week * 2L) + (1 | g)"),
  mkcase("literal_hex_dot", "y ~ I(z * 0x10) + I(z + .5) + I(week * 1.50) + (1 | g)"),
  mkcase("literal_long", "y ~ I(z * 0.1234567890123456789) + I(z * 123456789012) + (1 | g)"),
  mkcase("single_quotes", "y ~ I(ch == 'alpha') + (1 | g)"),
  mkcase("backquoted", "y ~ `z` + `sp.len` + (1 | g)"),
  mkcase("no_spaces", "y~z*f+(1|g)"),
  mkcase("I_term_pow", "y ~ I(z)^2 + (1 | g)"),
  mkcase("square_minus_fh", "y ~ (f + h)^2 - f:h + (1 | g)"),
  mkcase("triple_minus_3way", "y ~ f * h * flag - f:h:flag + (1 | g)"),
  mkcase("offset_minus1", "y ~ z + offset(n/10) - 1 + (1 | g)"),
  mkcase("resp_I_exp", "exp(y/10) ~ z + (1 | g)"),
  mkcase("resp_log_nan", "log(y - 3) ~ z + (1 | g)"),
  mkcase("sqrt_times_log", "y ~ sqrt(week) * log(n) + (1 | g)"),
  mkcase("sleep_dot", "Reaction ~ . + (1 | Subject)", "sleepstudy"),
  mkcase("nchar_unsupported", "y ~ nchar(ch) + (1 | g)"),
  mkcase("factor_index", "y ~ factor(c(\"a\", \"b\")[flag + 1]) + (1 | g)"),
  mkcase("pmax_na_rm", "y ~ pmax(x, 1, na.rm = TRUE) + (1 | g)"),
  mkcase("log_exp_chain", "y ~ log(exp(z) + exp(-z)) + (1 | g)"),
  mkcase("scale_colon_poly", "y ~ scale(week):poly(z, 2) + (1 | g)"),
  mkcase("ordered_cut", "y ~ ordered(cut(z, 3)) + (1 | g)"),
  mkcase("interaction_cut_flag", "y ~ interaction(cut(z, c(-5, 0, 5)), flag, sep = \":\") + (1 | g)"),
  mkcase("as_numeric_cut", "y ~ as.numeric(cut(z, 4)) * flag + (1 | g)"),
  # --- round 3
  mkcase("cut_3digits", "y ~ cut(z, c(-3, -1.23456, 0, 3)) + (1 | g)"),
  mkcase("cut_clash_digits", "y ~ cut(z, c(-3, -1.0001, -1, 3)) + (1 | g)"),
  mkcase("cut_sci_label", "y ~ cut(w, c(0, 123456, 1e6)) + (1 | g)"),
  mkcase("cut_n5", "y ~ cut(z, 5) + (1 | g)"),
  mkcase("factor_big_numbers", "y ~ factor(round(z) * 1e15) + (1 | g)"),
  mkcase("factor_n_over_7", "y ~ factor(round(n / 7, 1) / 7) + (1 | g)"),
  mkcase("interaction_sep_empty", "y ~ interaction(f, h, sep = \"\") + (1 | g)"),
  mkcase("relevel_factor_char", "y ~ relevel(factor(ch), ref = \"gamma\") + (1 | g)"),
  mkcase("re_scale_x", "y ~ 1 + (scale(x) | g)"),
  mkcase("poly_plus_poly_flag", "y ~ poly(z, 2) + poly(z, 2):flag + (1 | g)"),
  mkcase("nest_paren_multi", "y ~ f/(h + z) + (1 | g)"),
  mkcase("nest_paren_lhs", "y ~ (f + h)/z + (1 | g)"),
  mkcase("star_minus_num", "y ~ f * z - z + (1 | g)"),
  mkcase("zfm1_flag", "y ~ z:f - 1 + flag + (1 | g)"),
  mkcase("zero_fz_h", "y ~ 0 + f:z + h + (1 | g)"),
  mkcase("minus1_fh", "y ~ -1 + f:h + (1 | g)"),
  mkcase("zero_flag_f", "y ~ 0 + flag:f + (1 | g)"),
  mkcase("I_colon_f_plus_f", "y ~ I(z^2):f + f + (1 | g)"),
  mkcase("call_pow_term", "y ~ cos(z)^2 + (1 | g)"),
  mkcase("offset_only", "y ~ offset(log(n)) + (1 | g)"),
  mkcase("offset_after_re", "y ~ z + (1 | g) + offset(z)"),
  mkcase("resp_log_offset_f", "log(y + 10) ~ offset(log(n)) + f + (1 | g)"),
  mkcase("cubic_re", "y ~ week + I(week^2) + I(week^3) + (week | g)"),
  mkcase("asnum_gt_colon_f", "y ~ as.numeric(week > 5):f + (1 | g)"),
  mkcase("intdiv_bare", "y ~ round(z * 10) %/% 3 + (1 | g)"),
  mkcase("sign_abs", "y ~ sign(z) * abs(z) + (1 | g)"),
  mkcase("I_max_sum", "y ~ I(max(z) - z) + I(z / sum(n)) + I(var(z) * week) + (1 | g)"),
  mkcase("I_length_const", "y ~ z + I(length(z)) + (1 | g)"),
  mkcase("poly_raw_colon_poly_raw", "y ~ poly(z, 2, raw = TRUE):poly(week, 2, raw = TRUE) + (1 | g)"),
  mkcase("bs_intercept", "y ~ bs(z, df = 4, intercept = TRUE) + (1 | g)"),
  mkcase("ns_intercept_m1", "y ~ ns(z, df = 3, intercept = TRUE) - 1 + (1 | g)"),
  mkcase("bs_week_knot", "y ~ bs(week, knots = 5, degree = 2) + (1 | g)"),
  mkcase("bs_knots_boundary", "y ~ bs(z, knots = c(-1, 0, 1), Boundary.knots = c(-4, 4)) + (1 | g)",
    fit = TRUE, newdata = nd_fx),
  mkcase("ns_week_ties", "y ~ ns(week, df = 4) + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("ifelse_mixed", "y ~ ifelse(f == \"lo\", \"L\", as.character(h)) + (1 | g)"),
  mkcase("as_factor_ifelse", "y ~ as.factor(ifelse(z > 0, 1, 0)) + (1 | g)"),
  mkcase("factor_ifelse_na", "y ~ factor(ifelse(flag, \"yes\", NA)) + (1 | g)"),
  mkcase("factor_levels_drop_mid", "y ~ factor(f, levels = c(\"lo\", \"hi\")) + (1 | g)"),
  mkcase("factor_levels_extra", "y ~ factor(f, levels = c(\"lo\", \"mid\", \"hi\", \"zz\")) + (1 | g)"),
  mkcase("interaction_o_flag", "y ~ interaction(o, flag) + (1 | g)"),
  mkcase("h_star_o", "y ~ h * o + (1 | g)"),
  mkcase("oz_plus_o", "y ~ o:z + o + (1 | g)"),
  mkcase("C_poly_howmany", "y ~ C(o, contr.poly, 1) + (1 | g)"),
  mkcase("C_in_interaction", "y ~ C(f, contr.sum):z + C(f, contr.sum) + (1 | g)"),
  mkcase("C_helmert_times_flag", "y ~ C(h, contr.helmert) * flag + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("contrasts_sum_fit", "y ~ f * o + z + (1 | g)", contrasts = list(f = "contr.sum", o = "contr.treatment"),
    fit = TRUE, newdata = nd_fx),
  mkcase("scale_fit_predict", "y ~ scale(z) * flag + scale(week, center = 5) + (1 | g)", fit = TRUE, newdata = nd_fx),
  mkcase("in_set_bare", "y ~ I(h %in% c(\"A\", \"C\")) + (1 | g)"),
  # errors
  mkcase("err_no_re", "y ~ z"),
  mkcase("err_missing_var", "y ~ nosuch + (1 | g)"),
  mkcase("err_poly_na", "y ~ poly(x, 2) + (1 | g)"),
  mkcase("err_bad_group", "y ~ z + (1 | nosuch)"),
  # other data
  mkcase("sleep_quad_uncorr", "Reaction ~ Days + I(Days^2) + (Days || Subject)", "sleepstudy", fit = TRUE,
    newdata = function(d) data.frame(Days = c(0, 4.5, 9, 12), Subject = d$Subject[c(1, 1, 1, 1)])),
  mkcase("sleep_factor_logical_colon", "Reaction ~ factor(Days > 2):Days + (1 | Subject)", "sleepstudy"),
  mkcase("sleep_cut_n", "Reaction ~ cut(Days, 3, dig.lab = 2) + (1 | Subject)", "sleepstudy"),
  mkcase("cake_recipe_poly", "angle ~ recipe * poly(temp, 2) + (1 | recipe:replicate)", "cake", fit = TRUE,
    newdata = function(d) { nd <- d[c(1, 100, 200), ]; nd$temp <- c(160, 200, 240); rownames(nd) <- NULL; nd }),
  mkcase("cake_ordered_colon", "angle ~ temperature:recipe + (1 | replicate)", "cake"),
  mkcase("cake_ordered_temperature_star", "angle ~ recipe * temperature + (1 | replicate)", "cake"),
  mkcase("orth_centered", "distance ~ Sex * I(age - 11) + (I(age - 11) | Subject)", "Orthodont"),
  mkcase("orth_sex_re", "distance ~ age + (0 + age | Sex) + (1 | Subject)", "Orthodont"),
  mkcase("cbpp_prop_resp", "incidence/size ~ period + (1 | herd)", "cbpp"),
  mkcase("cbpp_cbind_resp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp"),
  mkcase("cbpp_period_num", "incidence ~ as.numeric(as.character(period)):size + (1 | herd)", "cbpp"),
  mkcase("fs_h_in_f", "y ~ h %in% f + o + (1 | g)", "formsim"),
  mkcase("fs_offset_scale", "y ~ offset(scale(n)[, 1]) + flag + (1 | g)", "formsim"),
  mkcase("fs_ch_interaction", "y ~ ch:o + (1 | g)", "formsim")
)

# ---------------------------------------------------------------------------------------
num2str <- function(v) {
  v <- as.numeric(v)
  s <- sprintf("%.17g", v)
  s[is.nan(v)] <- "NaN"
  s[is.na(v) & !is.nan(v)] <- "NA"
  s[is.infinite(v) & v > 0] <- "Inf"
  s[is.infinite(v) & v < 0] <- "-Inf"
  s
}
mat2rows <- function(M) lapply(seq_len(nrow(M)), function(i) num2str(M[i, ]))

ctrl <- lmerControl(check.nlev.gtreq.5 = "ignore", check.nobs.vs.nRE = "ignore",
                    check.nobs.vs.rankZ = "ignore", check.nobs.vs.nlev = "ignore",
                    check.nlev.gtr.1 = "ignore")

run_quiet <- function(expr) {
  msgs <- character(); warns <- character()
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(list(msg = conditionMessage(e)), class = "caught_error")),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  list(value = val, messages = msgs, warnings = warns)
}

newdata_records <- function(nd) {
  lapply(seq_len(nrow(nd)), function(i) {
    r <- list()
    for (nm in names(nd)) {
      v <- nd[[nm]][i]
      r[[nm]] <- if (is.factor(v)) as.character(v) else if (is.logical(v)) v
                 else if (is.numeric(v)) num2str(v) else as.character(v)
    }
    r
  })
}

results <- list()
for (cs in cases) {
  d <- datasets[[cs$dataset]]
  fml <- as.formula(cs$formula, env = globalenv())
  args <- list(formula = fml, data = d, control = ctrl)
  if (!is.null(cs$contrasts)) args$contrasts <- cs$contrasts
  r <- run_quiet(do.call(lFormula, args))
  out <- list(id = cs$id, dataset = cs$dataset, formula = cs$formula,
              contrasts = cs$contrasts, note = cs$note,
              messages = r$messages, warnings = r$warnings)
  dargs <- args; dargs$control <- NULL
  rd <- run_quiet(do.call(lFormula, dargs))
  out$error_default <- if (inherits(rd$value, "caught_error")) rd$value$msg else NULL
  if (inherits(r$value, "caught_error")) {
    out$error <- r$value$msg
  } else {
    lf <- r$value
    X <- lf$X
    out$error <- NULL
    out$X_colnames <- colnames(X)
    out$X <- mat2rows(X)
    out$rows <- as.integer(rownames(lf$fr))
    y <- model.response(lf$fr)
    out$y_is_matrix <- is.matrix(y)
    out$y <- if (is.matrix(y)) mat2rows(y) else num2str(y)
    off <- model.offset(lf$fr)
    out$offset <- if (is.null(off)) NULL else num2str(off)
    out$Zt_dim <- dim(lf$reTrms$Zt)
    out$cnms <- lapply(seq_along(lf$reTrms$cnms), function(i)
      list(grp = names(lf$reTrms$cnms)[i], columns = lf$reTrms$cnms[[i]]))
    out$spline <- grepl("\\b(ns|bs)\\(", cs$formula)
    if (cs$fit) {
      fr <- run_quiet(lmer(fml, data = d, REML = TRUE, control = ctrl))
      m <- fr$value
      if (!inherits(m, "caught_error")) {
        nd <- cs$newdata(d)
        out$fit <- list(REMLcrit = num2str(REMLcrit(m)),
                        fixef_names = names(fixef(m)),
                        fixef = num2str(fixef(m)),
                        warnings = fr$warnings,
                        newdata = newdata_records(nd),
                        predict = {
                          p <- run_quiet(predict(m, newdata = nd, re.form = NA))$value
                          if (inherits(p, "caught_error")) list(error = p$msg) else num2str(p)
                        })
      } else out$fit <- list(error = m$msg)
    }
  }
  results[[length(results) + 1]] <- out
}

meta <- list(
  generated_by = "scripts/make_formula_extra_reference.R",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  Matrix = as.character(packageVersion("Matrix"))),
  lFormula_control = "lmerControl(check.nlev.gtreq.5, check.nobs.vs.nRE, check.nobs.vs.rankZ, check.nobs.vs.nlev, check.nlev.gtr.1 = 'ignore')",
  cases = results)
writeLines(toJSON(meta, auto_unbox = TRUE, null = "null", pretty = FALSE, digits = NA),
           file.path(out_dir, "cases.json"))
cat(length(results), "cases written\n")
for (o in results) if (!is.null(o[["error"]])) cat("ERROR", o$id, ":", o[["error"]], "\n")
for (o in results) if (is.null(o[["error"]]) && !is.null(o[["error_default"]])) cat("ERROR(default control)", o$id, ":", o[["error_default"]], "\n")
