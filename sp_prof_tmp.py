import io, time, openpyxl
from connectors.parsers.ooxml_limits import check_package, XLSX_LIMITS
from connectors.parsers import xlsx
wb=openpyxl.Workbook(write_only=True); ws=wb.create_sheet("Big")
for i in range(200_000): ws.append([i, f"name {i}", i*2.5])
b=io.BytesIO(); wb.save(b); d=b.getvalue()
t0=time.time(); check_package(d, XLSX_LIMITS); print("check", time.time()-t0)
t0=time.time(); wb=openpyxl.load_workbook(io.BytesIO(d), read_only=True, data_only=True); ws=wb.worksheets[0]; ws.reset_dimensions()
n=0
for r in ws.iter_rows(values_only=True):
    n+=1
    if n>66000: break
print("iter", time.time()-t0)
