# Printed output of anova() and ranef() for tests/test_printing.py.
#
#   Rscript tests/reference/printed/generate_printing.R tests/reference/printed
#
# Writes, exactly as R writes them to the console:
#   <name>.anova_lrt.txt    print(anova(m0, m1)): lme4's likelihood-ratio table (the models
#                           named as in the call)
#   <name>.anova_type3.txt  print(anova(as_lmerModLmerTest(m))): lmerTest's type III table
#   <name>.ranef.txt        print(ranef(m)) (condVar = TRUE, lme4's default)
# and printing_fits.json: lme4's theta (17 significant digits) for every model used, so
# that the tests can evaluate the models at lme4's own estimates.
# Written with R 4.2.2, lme4 1.1-31, lmerTest 3.1-3 (options(width = 80, digits = 7)).
suppressMessages({library(lme4); library(lmerTest, warn.conflicts = FALSE)
                  library(jsonlite)})
options(width = 80, digits = 7)
out_dir <- commandArgs(TRUE)[1]

capt <- function(expr) {
  capture.output(withCallingHandlers(expr, message = function(c) {
    cat(conditionMessage(c))
    invokeRestart("muffleMessage")
  }))
}
out <- function(lines, name) writeLines(lines, file.path(out_dir, name))
fits <- list()
keep <- function(key, m, f, d, REML) {
  fits[[key]] <<- list(formula = paste(deparse(f, width.cutoff = 500L), collapse = " "),
                       data = d, REML = REML,
                       theta = I(sprintf("%.17g", getME(m, "theta"))))
}

# likelihood-ratio tests: sleepstudy (ML fits)
m1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy, REML = FALSE)
m0 <- lme4::lmer(Reaction ~ 1 + (Days | Subject), sleepstudy, REML = FALSE)
keep("sleepstudy_ml", m1, Reaction ~ Days + (Days | Subject), "sleepstudy", FALSE)
keep("sleepstudy_ml_null", m0, Reaction ~ 1 + (Days | Subject), "sleepstudy", FALSE)
out(capt(print(anova(m0, m1))), "sleepstudy_ml.anova_lrt.txt")

# three nested models, one with an uncorrelated slope (deparsed as lme4 keeps it)
m2 <- lme4::lmer(Reaction ~ Days + (Days || Subject), sleepstudy, REML = FALSE)
keep("sleepstudy_ml_uncorr", m2, Reaction ~ Days + (Days || Subject), "sleepstudy", FALSE)
out(capt(print(anova(m0, m2, m1))), "sleepstudy_ml3.anova_lrt.txt")

# row names wider than the console: R prints the columns in blocks of at most 80 characters
a_model_without_the_fixed_effect_of_days <- m0
a_model_with_the_fixed_effect_of_days <- m1
out(capt(print(anova(a_model_without_the_fixed_effect_of_days,
                     a_model_with_the_fixed_effect_of_days))), "sleepstudy_ml_long.anova_lrt.txt")

# a GLMM comparison (own fits only in the tests: glmer's estimates include beta)
gm1 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial)
gm0 <- glmer(cbind(incidence, size - incidence) ~ 1 + (1 | herd), cbpp, binomial)
out(capt(print(anova(gm0, gm1))), "cbpp.anova_lrt.txt")

# type III F tests (lmerTest)
out(capt(print(anova(as_lmerModLmerTest(m1)))), "sleepstudy_ml.anova_type3.txt")
cake_m <- lme4::lmer(angle ~ recipe * temperature + (1 | recipe:replicate), cake)
keep("cake", cake_m, angle ~ recipe * temperature + (1 | recipe:replicate), "cake", TRUE)
out(capt(print(anova(as_lmerModLmerTest(cake_m)))), "cake.anova_type3.txt")

# conditional modes
mr <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
keep("sleepstudy_reml", mr, Reaction ~ Days + (Days | Subject), "sleepstudy", TRUE)
out(capt(print(ranef(mr))), "sleepstudy_reml.ranef.txt")
pen <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
keep("penicillin", pen, diameter ~ 1 + (1 | plate) + (1 | sample), "Penicillin", TRUE)
out(capt(print(ranef(pen))), "penicillin.ranef.txt")

json <- toJSON(fits, auto_unbox = TRUE, pretty = TRUE)
json <- gsub('"(-?[0-9.]+(e[-+][0-9]+)?)"', "\\1", json)
writeLines(json, file.path(out_dir, "printing_fits.json"))
