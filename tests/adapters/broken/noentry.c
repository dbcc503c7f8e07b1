/* noentry.c: a shared object that is not a d2ev adapter (no entry symbol). */
int d2ev_not_an_adapter(void);
__attribute__((visibility("default"))) int d2ev_not_an_adapter(void)
{
    return 42;
}
