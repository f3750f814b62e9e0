# Printed output of lme4 for tests/test_summary.py.
#
#   Rscript tests/reference/printed/generate.R tests/reference/printed
#
# For each model writes <name>.summary.txt (print(summary(m))), <name>.print.txt (print(m))
# and <name>.varcorr.txt (print(VarCorr(m))), exactly as R writes them to the console
# (messages, such as the "Correlation matrix not shown" hint, in their place), and
# lme4_fits.json: lme4's theta (17 significant digits), optimizer code and convergence
# messages, so that the tests can also print a model evaluated at lme4's own estimates.
# Written with R 4.2.2, lme4 1.1-31, mlmRev 1.0-8 (options(width = 80, digits = 7)).
suppressMessages({library(lme4); library(mlmRev); library(jsonlite)})
options(width = 80, digits = 7)
out_dir <- commandArgs(TRUE)[1]

sleepstudy2 <- transform(sleepstudy, DaysSinceStartOfStudy = Days)
sleepstudy3 <- transform(sleepstudy, DaysF = factor(Days))
models <- list(
  sleepstudy_reml = list(f = Reaction ~ Days + (Days | Subject), d = "sleepstudy", REML = TRUE),
  sleepstudy_ml = list(f = Reaction ~ Days + (Days | Subject), d = "sleepstudy", REML = FALSE),
  sleepstudy_uncorr = list(f = Reaction ~ Days + (Days || Subject), d = "sleepstudy", REML = TRUE),
  sleepstudy_quad = list(f = Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject),
                         d = "sleepstudy", REML = TRUE),
  sleepstudy_longnames = list(f = Reaction ~ DaysSinceStartOfStudy +
                                (DaysSinceStartOfStudy || Subject),
                              d = "sleepstudy2", REML = FALSE),
  sleepstudy_crossed = list(f = Reaction ~ Days + (Days | Subject) + (1 | DaysF),
                            d = "sleepstudy3", REML = TRUE),
  sleepstudy_nofixed = list(f = Reaction ~ 0 + (1 | Subject), d = "sleepstudy3", REML = TRUE),
  penicillin = list(f = diameter ~ 1 + (1 | plate) + (1 | sample), d = "Penicillin", REML = TRUE),
  dyestuff2 = list(f = Yield ~ 1 + (1 | Batch), d = "Dyestuff2", REML = TRUE),
  cake = list(f = angle ~ recipe * temperature + (1 | recipe:replicate), d = "cake", REML = TRUE),
  cake_additive = list(f = angle ~ recipe + temperature + (1 | recipe:replicate), d = "cake",
                       REML = FALSE),
  pastes = list(f = strength ~ 1 + (1 | batch/cask), d = "Pastes", REML = TRUE),
  exam = list(f = normexam ~ standLRT + sex + (standLRT | school), d = "Exam", REML = TRUE)
)

# print() with messages (sent to stderr by R) written where they appear on a console
capt <- function(expr) {
  capture.output(withCallingHandlers(expr, message = function(c) {
    cat(conditionMessage(c))
    invokeRestart("muffleMessage")
  }))
}

fits <- list()
for (nm in names(models)) {
  spec <- models[[nm]]
  m <- eval(bquote(suppressWarnings(suppressMessages(
    lmer(.(spec$f), data = .(as.name(spec$d)), REML = .(spec$REML))))))
  writeLines(capt(print(summary(m))), file.path(out_dir, paste0(nm, ".summary.txt")))
  writeLines(capt(print(m)), file.path(out_dir, paste0(nm, ".print.txt")))
  writeLines(capt(print(VarCorr(m))), file.path(out_dir, paste0(nm, ".varcorr.txt")))
  fits[[nm]] <- list(
    formula = paste(deparse(spec$f, width.cutoff = 500L), collapse = " "),
    data = spec$d, REML = spec$REML,
    theta = I(sprintf("%.17g", getME(m, "theta"))),
    conv = m@optinfo$conv$opt,
    messages = I(as.character(unlist(m@optinfo$conv$lme4$messages))),
    optimizer = m@optinfo$optimizer)
}
json <- toJSON(fits, auto_unbox = TRUE, pretty = TRUE)
# theta as JSON numbers with all 17 digits
json <- gsub('"(-?[0-9.]+(e[-+][0-9]+)?)"', "\\1", json)
writeLines(json, file.path(out_dir, "lme4_fits.json"))

# ------------------------------------------------------------------ GLMMs (tests/test_summary_glmm.py)
#
# <name>.summary.txt, <name>.print.txt and <name>.varcorr.txt as above, and
# lme4_glmm_fits.json: lme4's theta, beta and vcov (17 significant digits), family, link,
# nAGQ, optimizer code and convergence messages. gamma_sim is read from pylmer's copy of the
# reference data (pylmer/datasets/data/gamma_sim.csv, factor levels from its columns file).
data_dir <- file.path(out_dir, "..", "..", "..", "pylmer", "datasets", "data")
gamma_sim <- read.csv(file.path(data_dir, "gamma_sim.csv"))
gamma_sim$g <- factor(gamma_sim$g, levels = fromJSON(file.path(
  data_dir, "gamma_sim.columns.json"))$columns$g$levels)
cbpp_f <- cbind(incidence, size - incidence) ~ period + (1 | herd)
glmms <- list(
  cbpp_laplace = list(f = cbpp_f, d = "cbpp", family = quote(binomial), nAGQ = 1L),
  cbpp_agq25 = list(f = cbpp_f, d = "cbpp", family = quote(binomial), nAGQ = 25L),
  cbpp_nagq0 = list(f = cbpp_f, d = "cbpp", family = quote(binomial), nAGQ = 0L),
  grouseticks_poisson = list(f = TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) +
                               (1 | LOCATION), d = "grouseticks", family = quote(poisson),
                             nAGQ = 1L),
  verbagg_laplace = list(f = r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item),
                         d = "VerbAgg", family = quote(binomial), nAGQ = 1L),
  gamma_sim_log = list(f = y ~ x + (1 | g), d = "gamma_sim", family = quote(Gamma(link = "log")),
                       nAGQ = 1L)
)
gfits <- list()
for (nm in names(glmms)) {
  spec <- glmms[[nm]]
  # the call as a user types it (nAGQ only when not the default), so that print() shows it
  cl <- if (spec$nAGQ == 1L) {
    bquote(glmer(.(spec$f), data = .(as.name(spec$d)), family = .(spec$family)))
  } else {
    bquote(glmer(.(spec$f), data = .(as.name(spec$d)), family = .(spec$family),
                 nAGQ = .(spec$nAGQ)))
  }
  m <- suppressWarnings(suppressMessages(eval(cl)))
  writeLines(capt(print(summary(m))), file.path(out_dir, paste0(nm, ".summary.txt")))
  writeLines(capt(print(m)), file.path(out_dir, paste0(nm, ".print.txt")))
  writeLines(capt(print(VarCorr(m))), file.path(out_dir, paste0(nm, ".varcorr.txt")))
  fam <- family(m)
  gfits[[nm]] <- list(
    formula = paste(deparse(spec$f, width.cutoff = 500L), collapse = " "),
    data = spec$d, family = fam$family, link = fam$link, nAGQ = spec$nAGQ,
    theta = I(sprintf("%.17g", getME(m, "theta"))),
    beta = I(sprintf("%.17g", getME(m, "beta"))),
    vcov = lapply(seq_len(nrow(V <- as.matrix(vcov(m)))), function(i) I(sprintf("%.17g", V[i, ]))),
    conv = m@optinfo$conv$opt,
    messages = I(as.character(unlist(m@optinfo$conv$lme4$messages))),
    optimizer = m@optinfo$optimizer)
}
json <- toJSON(gfits, auto_unbox = TRUE, pretty = TRUE)
json <- gsub('"(-?[0-9.]+(e[-+][0-9]+)?)"', "\\1", json)
writeLines(json, file.path(out_dir, "lme4_glmm_fits.json"))
