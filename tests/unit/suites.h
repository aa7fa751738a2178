/* suites.h — each test file registers its suites here. */
#ifndef TD_TEST_SUITES_H
#define TD_TEST_SUITES_H

int register_pickle_tests(void);
int register_zip_tests(void);
int register_dcp_tests(void);
int register_fixture_tests(void);
int register_lang_tests(void);
int register_plan_tests(void);
int register_regress_tests(void);
int register_convert_tests(void);
int register_verify_tests(void);
int register_intops_tests(void);
int register_xform_tests(void);
int register_fp8_tests(void);

#endif
