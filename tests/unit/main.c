/* The CUnit runner: every suite, basic mode, non-zero exit on failure. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "suites.h"

int main(void)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	if (register_pickle_tests() || register_zip_tests() ||
	    register_dcp_tests() || register_fixture_tests() ||
	    register_lang_tests() || register_plan_tests() ||
	    register_regress_tests() || register_convert_tests() ||
	    register_verify_tests() || register_intops_tests() ||
	    register_xform_tests() || register_fp8_tests()) {
		fprintf(stderr, "test registration failed: %s\n",
			CU_get_error_msg());
		CU_cleanup_registry();
		return 99;
	}
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() +
		 CU_get_number_of_tests_failed();
	printf("\n%u passed, %u failed\n",
	       CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	       CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
